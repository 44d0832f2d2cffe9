package sso

import (
	"context"
	"slices"
	"strings"

	"github.com/usherhq/usher"
)

// Prepare checks a connection's protocol settings before provision saves
// it (provision.CheckConnectionsWith) and completes what the protocol
// needs: a SAML connection gets usher's key and certificate once.
func (s *Service) Prepare(ctx context.Context, tenant usher.Tenant, c *usher.Connection) error {
	var errs usher.Errors
	switch c.Protocol {
	case "oidc":
		if c.ClientID == "" {
			errs = append(errs, usher.Invalid("client_id", "is required: the client id usher has at the identity provider"))
		}
		var scopes []string
		for i, sc := range c.Scopes {
			sc = strings.TrimSpace(sc)
			if sc == "" || len(sc) > 100 || strings.ContainsFunc(sc, func(r rune) bool { return r <= ' ' || r == '"' || r == '\\' || r > '~' }) {
				errs = append(errs, usher.Invalid("scopes", "scope %d is not a scope name", i+1))
				continue
			}
			if sc != "openid" && !slices.Contains(scopes, sc) {
				scopes = append(scopes, sc)
			}
		}
		c.Scopes = scopes
		c.MetadataURL, c.MetadataXML, c.IdPInitiated = "", "", false
	case "saml":
		c.Issuer, c.ClientID, c.ClientSecret, c.Scopes, c.UserInfo = "", "", "", nil, false
		if err := s.prepareSAML(ctx, tenant, c); err != nil {
			var e *usher.Error
			if ee, ok := err.(*usher.Error); ok {
				e = ee
			} else {
				return err
			}
			errs = append(errs, e)
		}
	}
	return errs.Err()
}

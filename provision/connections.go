package provision

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/secret"
	"github.com/usherhq/usher/store"
)

// ConnectionCheck checks a connection's protocol settings before it is
// saved and completes what the protocol needs (package sso's Prepare): c
// has its id and tenant; an error names the field.
type ConnectionCheck func(ctx context.Context, tenant usher.Tenant, c *usher.Connection) error

// CheckConnectionsWith sets the protocol checks of SaveConnection.
func (s *Service) CheckConnectionsWith(f ConnectionCheck) { s.checkConnection = f }

// checkMapping cleans an attribute mapping: a known preset, names of
// claims or attributes, and group rules that say what they give.
func checkMapping(m *usher.AttributeMapping) usher.Errors {
	var errs usher.Errors
	switch m.Preset {
	case "", "generic", "entra", "okta", "google":
	default:
		errs = append(errs, usher.Invalid("mapping.preset", "must be generic, entra, okta or google"))
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"subject", &m.Subject}, {"first_name", &m.FirstName}, {"last_name", &m.LastName}, {"email", &m.Email}, {"phone", &m.Phone},
		{"username", &m.Username}, {"department", &m.Department}, {"job_profile", &m.JobProfile}, {"language", &m.Language}, {"groups", &m.Groups}} {
		v, err := usher.CleanText("mapping."+f.name, *f.v, 300)
		if err != nil {
			errs = append(errs, err.(*usher.Error))
		}
		*f.v = v
	}
	if len(m.GroupRules) > 200 {
		errs = append(errs, usher.Invalid("mapping.group_rules", "at most 200 rules"))
	}
	for i := range m.GroupRules {
		r := &m.GroupRules[i]
		field := fmt.Sprintf("mapping.group_rules[%d]", i)
		g, err := usher.CleanText(field+".idp_group", r.IdPGroup, 300)
		switch {
		case err != nil:
			errs = append(errs, err.(*usher.Error))
		case g == "":
			errs = append(errs, usher.Invalid(field+".idp_group", "name the identity provider's group"))
		case r.GroupID == "" && r.RoleID == "":
			errs = append(errs, usher.Invalid(field, "give the group_id or role_id members of %q get", g))
		}
		r.IdPGroup = g
	}
	return errs
}

// ConnectionInput creates or changes a corporate SSO connection.
type ConnectionInput struct {
	usher.Connection
	Deactivated *bool `json:"deactivated,omitempty"`
}

// SaveConnection creates (id "") or replaces a connection's configuration.
func (s *Service) SaveConnection(ctx context.Context, actor usher.Actor, tenant usher.Tenant, id string, in ConnectionInput) (usher.Connection, error) {
	if err := actor.Require(usher.AdminTenant); err != nil {
		return usher.Connection{}, err
	}
	c := in.Connection
	var errs usher.Errors
	var err error
	if c.Name, err = usher.CleanText("name", c.Name, 200); err != nil {
		errs = append(errs, err.(*usher.Error))
	} else if c.Name == "" {
		errs = append(errs, usher.Invalid("name", "is required"))
	}
	if c.Protocol != "oidc" && c.Protocol != "saml" {
		errs = append(errs, usher.Invalid("protocol", "must be oidc or saml"))
	}
	domains := make([]string, 0, len(c.Domains))
	for i, d := range c.Domains {
		n, err := usher.NormalizeEmail("domains", "x@"+d)
		if err != nil {
			errs = append(errs, usher.Invalid(fmt.Sprintf("domains[%d]", i), "%q is not an email domain", d))
			continue
		}
		if d := usher.EmailDomain(n); !slices.Contains(domains, d) {
			domains = append(domains, d)
		}
	}
	c.Domains = domains
	// Addresses usher will fetch and send people to: never javascript: or
	// a header's worth of CR LF.
	if c.Issuer, err = usher.CheckURL("issuer", c.Issuer, true); err != nil {
		errs = append(errs, err.(*usher.Error))
	} else if c.Protocol == "oidc" && c.Issuer == "" {
		errs = append(errs, usher.Invalid("issuer", "is required for an OpenID Connect connection"))
	}
	if c.MetadataURL, err = usher.CheckURL("metadata_url", c.MetadataURL, false); err != nil {
		errs = append(errs, err.(*usher.Error))
	} else if c.Protocol == "saml" && c.MetadataURL == "" && strings.TrimSpace(c.MetadataXML) == "" {
		errs = append(errs, usher.Invalid("metadata_url", "a SAML connection needs the identity provider's metadata: its URL, or the XML in metadata_xml"))
	}
	errs = append(errs, checkMapping(&c.Mapping)...)
	if c.ClientID, err = usher.CleanText("client_id", c.ClientID, 255); err != nil {
		errs = append(errs, err.(*usher.Error))
	}
	if len(c.ClientSecret) > 1024 || strings.ContainsFunc(c.ClientSecret, unicode.IsControl) {
		errs = append(errs, usher.Invalid("client_secret", "must be at most 1024 characters without control characters"))
	}
	if err := errs.Err(); err != nil {
		return c, err
	}
	// The protocol's own settings (package sso): checked, and a SAML
	// connection's service provider key made, before the transaction.
	c.SPCertificate, c.SPKey = "", "" // usher's own, made once
	var old usher.Connection
	if id != "" {
		if old, err = s.st.Read().Connection(ctx, tenant.ID, id); err != nil {
			return c, err
		}
		c.SPCertificate, c.SPKey = old.SPCertificate, old.SPKey
	}
	newID := id
	if newID == "" {
		newID = store.NewID() // now: sealed secrets are bound to it
	}
	if s.checkConnection != nil {
		c.ID, c.TenantID = newID, tenant.ID
		if err := s.checkConnection(ctx, tenant, &c); err != nil {
			return c, err
		}
	}
	defer s.noSSO.Forget(tenant.ID) // after the change commits
	draft := c
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		c = draft // the write may run again: from the input each time
		// The just-in-time defaults must be active entries of the tenant;
		// those the connection already had are not checked again, so it can
		// still be changed or switched off after one is retired.
		var old usher.Connection
		if id != "" {
			var err error
			if old, err = tx.Connection(ctx, tenant.ID, id); err != nil {
				return err
			}
		}
		refs := []catalogRef{
			{"jit_role_id", usher.KindRole, c.JITRoleID, old.JITRoleID},
			{"jit_department_id", usher.KindDepartment, c.JITDepartmentID, old.JITDepartmentID},
			{"jit_job_profile_id", usher.KindJobProfile, c.JITJobProfileID, old.JITJobProfileID},
		}
		for i, r := range c.Mapping.GroupRules {
			var was usher.GroupRule
			if i < len(old.Mapping.GroupRules) {
				was = old.Mapping.GroupRules[i]
			}
			refs = append(refs, catalogRef{fmt.Sprintf("mapping.group_rules[%d].group_id", i), usher.KindGroup, r.GroupID, was.GroupID},
				catalogRef{fmt.Sprintf("mapping.group_rules[%d].role_id", i), usher.KindRole, r.RoleID, was.RoleID})
		}
		errs, err := checkCatalogRefs(ctx, tx, tenant.ID, refs)
		if err != nil {
			return err
		}
		perr, err := checkPlanRef(ctx, tx, tenant.ID, "jit_plan_id", c.JITPlanID, old.JITPlanID)
		if err != nil {
			return err
		}
		if perr != nil {
			errs = append(errs, perr)
		}
		if err := errs.Err(); err != nil {
			return err
		}
		if id == "" {
			c.ID = newID
			c.ClientSecret = s.sealConnectionSecret(tenant.ID, c.ID, c.ClientSecret)
			if err := tx.InsertConnection(ctx, tenant.ID, &c); err != nil {
				return err
			}
			return audit(ctx, tx, tenant.ID, actor, "connection.created", "connection", c.ID, nil)
		}
		c.ID, c.CreatedAt, c.DeactivatedAt = old.ID, old.CreatedAt, old.DeactivatedAt
		if c.ClientSecret == "" {
			c.ClientSecret = old.ClientSecret // write-only: absent keeps it
		} else {
			c.ClientSecret = s.sealConnectionSecret(tenant.ID, c.ID, c.ClientSecret)
		}
		if in.Deactivated != nil {
			c.DeactivatedAt = Deactivation(*in.Deactivated, old.DeactivatedAt, tx)
		}
		if err := tx.UpdateConnection(ctx, tenant.ID, &c); err != nil {
			return err
		}
		if c.DeactivatedAt != nil && old.DeactivatedAt == nil {
			// Its identity provider is no longer trusted: what it signed in
			// ends, with what those sessions gave the products.
			if err := s.connectionDeactivated(ctx, tx, tenant, c); err != nil {
				return err
			}
			if err := tx.EndConnectionSessions(ctx, c.ID); err != nil {
				return err
			}
		}
		return audit(ctx, tx, tenant.ID, actor, "connection.updated", "connection", c.ID, nil)
	})
	c.ClientSecret = ""
	return c, err
}

// ConnectionSecretPurpose binds a connection's sealed client secret to it.
func ConnectionSecretPurpose(tenantID, connectionID string) string {
	return "connection-client-secret/" + tenantID + "/" + connectionID
}

// SPKeyPurpose binds a connection's sealed SAML service provider key (sso
// seals it) to the connection.
func SPKeyPurpose(tenantID, connectionID string) string {
	return "connection-sp-key/" + tenantID + "/" + connectionID
}

// Reseal seals anew with box's current key every secret of connections
// (client secrets, SAML service provider keys) sealed with an older one, or
// kept plain from before a key was configured, and returns how many it
// changed. A secret changed meanwhile is left as the change made it.
func Reseal(ctx context.Context, st *store.Store, box *secret.Box) (int, error) {
	if box == nil {
		return 0, nil
	}
	return st.ResealKept(ctx, []string{"connections"}, func(k store.Kept) (string, bool, error) {
		purpose := ConnectionSecretPurpose(k.TenantID, k.ID)
		if k.Field == "sp_key" {
			purpose = SPKeyPurpose(k.TenantID, k.ID)
		}
		return box.Reseal(k.Value, purpose)
	}, func(tx *store.Tx, k store.Kept, v string) (bool, error) { return tx.ResealConnectionSecret(ctx, k, v) })
}

// sealConnectionSecret seals an identity provider's client secret for
// keeping, bound to its connection.
func (s *Service) sealConnectionSecret(tenantID, connectionID, plain string) string {
	return s.box.Keep(plain, ConnectionSecretPurpose(tenantID, connectionID))
}

// ConnectionSecret reads a connection's client secret as stored: sealed
// (opened with the configured keys) or, kept before sealing existed, as it is.
func (s *Service) ConnectionSecret(c usher.Connection) (string, error) {
	return s.box.Reveal(c.ClientSecret, ConnectionSecretPurpose(c.TenantID, c.ID), "connection "+c.ID+"'s client secret")
}

package sso

import (
	"context"
	"net/url"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/store"
)

// The SAML 2.0 connector. (Being written: these placeholders refuse.)

// metadataCache holds identity providers' SAML metadata fetched from URLs.
type metadataCache struct{}

func newMetadataCache() *metadataCache { return &metadataCache{} }

func (s *Service) beginSAML(ctx context.Context, tenant usher.Tenant, c usher.Connection, q *store.SSORequest, state, loginHint string) (Start, error) {
	return Start{}, refused("SAML sign-in is not available in this build", nil)
}

func (s *Service) prepareSAML(ctx context.Context, tenant usher.Tenant, c *usher.Connection) error {
	return nil
}

// ACSResult is where a SAML Response posted to the ACS leads: for a
// sign-in usher started, the browser goes to DoneURL (same site, so its
// cookie comes along); an IdP-initiated one (where the connection allows
// it) gives its Answer at once.
type ACSResult struct {
	DoneURL string
	Answer  *Answer
}

// ACS reads a SAML Response posted to the connection's Assertion Consumer
// Service (HTTP-POST binding).
func (s *Service) ACS(ctx context.Context, tenant usher.Tenant, connID string, form url.Values) (ACSResult, error) {
	return ACSResult{}, refused("SAML sign-in is not available in this build", nil)
}

// Done picks up the answer of a SAML sign-in in the browser that started it.
func (s *Service) Done(ctx context.Context, tenant usher.Tenant, connID, state, cookie string) (Answer, error) {
	return Answer{}, ErrExpired
}

// Metadata is the connection's service provider metadata.
func (s *Service) Metadata(ctx context.Context, tenant usher.Tenant, connID string) ([]byte, error) {
	return nil, ErrDisabled
}

// Package apitoken owns the API tokens: operator and tenant tokens, the
// provisioning sources (tokens of role scim) with their settings, and the
// check of a bearer secret. Only a token's hash is kept.
package apitoken

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/secret"
	"github.com/usherhq/usher/store"
)

// Service manages API tokens.
type Service struct {
	st  *store.Store
	now func() time.Time
}

// New returns a Service on st. now is the clock (time.Now, but for tests).
func New(st *store.Store, now func() time.Time) *Service {
	return &Service{st: st, now: now}
}

// TokenInput creates an API token.
type TokenInput struct {
	Name string `json:"name"`
	Role string `json:"role"`
	// ExpiresAt is an RFC 3339 time; empty never expires.
	ExpiresAt string `json:"expires_at,omitempty"`
	// PatchResponse is a provisioning source's (role scim) answer to a
	// successful SCIM PATCH: no_content (the default) or resource.
	PatchResponse string `json:"patch_response,omitempty"`
}

// CreateToken issues an API token for tenant ("" for an operator token) and
// returns its secret, which is shown once and never stored.
func (s *Service) CreateToken(ctx context.Context, actor usher.Actor, tenant usher.Tenant, in TokenInput) (usher.APIToken, string, error) {
	tok := usher.APIToken{Role: in.Role}
	var err error
	if in.ExpiresAt != "" {
		exp, perr := time.Parse(time.RFC3339, in.ExpiresAt)
		if perr != nil {
			return tok, "", usher.Invalid("expires_at", "%q is not an RFC 3339 time, like 2027-01-31T23:59:59Z", in.ExpiresAt)
		}
		exp = exp.UTC()
		tok.ExpiresAt = &exp
	}
	if tok.Name, err = usher.CleanText("name", in.Name, 200); err != nil {
		return tok, "", err
	}
	if tok.Name == "" {
		return tok, "", usher.Invalid("name", "is required")
	}
	switch {
	case tenant.ID == "" && in.Role == usher.PrincipalOperator:
		err = actor.Require(usher.PrincipalOperator)
	case tenant.ID != "" && in.Role == usher.AdminTenant:
		// Tenant-administrator rights are the operator's to give.
		if err = actor.Require(usher.PrincipalOperator); err != nil {
			err = usher.Forbidden("only an operator can grant tenant.ID-administrator rights")
		}
	case tenant.ID != "" && (in.Role == usher.AdminUser || in.Role == usher.PrincipalSCIM):
		// A scim token is a provisioning source: it reaches SCIM only.
		err = actor.Require(usher.AdminTenant)
	default:
		return tok, "", usher.Invalid("role", "must be %s, %s or %s for a tenant token, %s for an operator token", usher.AdminTenant, usher.AdminUser, usher.PrincipalSCIM, usher.PrincipalOperator)
	}
	if err != nil {
		return tok, "", err
	}
	if tok.ExpiresAt != nil && !tok.ExpiresAt.After(s.now()) {
		return tok, "", usher.Invalid("expires_at", "is in the past")
	}
	if tok.Role == usher.PrincipalSCIM {
		if tok.PatchResponse, err = patchResponse(in.PatchResponse); err != nil {
			return tok, "", err
		}
	} else if in.PatchResponse != "" {
		return tok, "", usher.Invalid("patch_response", "is a setting of provisioning sources (tokens of role %s)", usher.PrincipalSCIM)
	}
	raw, _ := secret.New()
	raw = "ush_" + raw
	hash := secret.Hash(raw)
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		if err := tx.InsertToken(ctx, tenant.ID, &tok, hash); err != nil {
			return err
		}
		details := map[string]string{"role": tok.Role}
		if tok.PatchResponse != "" {
			details["patch_response"] = tok.PatchResponse
		}
		return tx.InsertAudit(ctx, tenant.ID, actor.Event("token.created", "token", tok.ID, details))
	})
	return tok, raw, err
}

// RevokeToken revokes an API token of tenant.
func (s *Service) RevokeToken(ctx context.Context, actor usher.Actor, tenant usher.Tenant, id string) error {
	if err := actor.Require(usher.AdminTenant); err != nil {
		return err
	}
	return s.st.Write(ctx, func(tx *store.Tx) error {
		if err := tx.RevokeToken(ctx, tenant.ID, id); err != nil {
			return err
		}
		return tx.InsertAudit(ctx, tenant.ID, actor.Event("token.revoked", "token", id, nil))
	})
}

// Authenticate resolves an API token's secret to its token, or unauthorized.
func (s *Service) Authenticate(ctx context.Context, bearer string) (usher.APIToken, error) {
	tok, err := s.st.Read().TokenByHash(ctx, secret.Hash(bearer))
	if err != nil {
		return tok, err
	}
	if tok.RevokedAt != nil || (tok.ExpiresAt != nil && !tok.ExpiresAt.After(s.now())) {
		return tok, usher.ErrUnauthorized
	}
	return tok, nil
}

// EnsureBootstrapToken makes bearer an operator token (stored as its hash),
// replacing an earlier bootstrap secret.
func (s *Service) EnsureBootstrapToken(ctx context.Context, bearer string) error {
	if len(bearer) < 16 {
		return fmt.Errorf("the bootstrap operator token must be at least 16 characters")
	}
	return s.st.Write(ctx, func(tx *store.Tx) error {
		return tx.EnsureToken(ctx, &usher.APIToken{ID: "bootstrap-operator", Name: "bootstrap operator (USHER_BOOTSTRAP_OPERATOR_TOKEN)", Role: usher.PrincipalOperator}, secret.Hash(bearer))
	})
}

// SourceInput changes a provisioning source's settings; what is left out
// stays as it was.
type SourceInput struct {
	// PatchResponse is how SCIM answers its successful PATCH requests:
	// usher.PatchNoContent (204, Entra ID) or usher.PatchResource (200
	// with the resource, Okta).
	PatchResponse *string `json:"patch_response,omitempty"`
}

// UpdateSource changes the settings of tenant's provisioning source id (a
// token of role scim): another tenant's, a revoked one or another role's
// token is not found.
func (s *Service) UpdateSource(ctx context.Context, actor usher.Actor, tenant usher.Tenant, id string, in SourceInput) (usher.APIToken, error) {
	if err := actor.Require(usher.AdminTenant); err != nil {
		return usher.APIToken{}, err
	}
	var tok usher.APIToken
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		var err error
		if tok, err = tx.Token(ctx, id); err != nil || tok.TenantID != tenant.ID || tok.Role != usher.PrincipalSCIM || tok.RevokedAt != nil {
			if err == nil || errors.Is(err, usher.ErrUnauthorized) {
				err = usher.NotFound("token_id", "provisioning source")
			}
			return err
		}
		if in.PatchResponse == nil {
			return nil
		}
		v, err := patchResponse(*in.PatchResponse)
		if err != nil {
			return err
		}
		if v == tok.PatchResponse {
			return nil
		}
		if err := tx.SetSourcePatchResponse(ctx, tenant.ID, id, v); err != nil {
			return err
		}
		tok.PatchResponse = v
		return tx.InsertAudit(ctx, tenant.ID, actor.Event("token.updated", "token", id, map[string]string{"patch_response": v}))
	})
	return tok, err
}

// patchResponse checks a source's patch_response; "" is the default.
func patchResponse(v string) (string, error) {
	switch v {
	case "":
		return usher.PatchNoContent, nil
	case usher.PatchNoContent, usher.PatchResource:
		return v, nil
	}
	return "", usher.Invalid("patch_response", "must be %s (204 without a body, for Entra ID) or %s (200 with the resource, for Okta)",
		usher.PatchNoContent, usher.PatchResource)
}

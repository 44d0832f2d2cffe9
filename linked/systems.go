package linked

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/store"
)

// Presets of the kinds usher knows; every field is overridable.
var presets = map[string]usher.ExternalSystem{
	usher.ExternalGoogle: {
		Issuer:           "https://accounts.google.com",
		AuthorizationURL: "https://accounts.google.com/o/oauth2/v2/auth",
		TokenURL:         "https://oauth2.googleapis.com/token",
		UserInfoURL:      "https://openidconnect.googleapis.com/v1/userinfo",
		RevocationURL:    "https://oauth2.googleapis.com/revoke",
		JWKSURL:          "https://www.googleapis.com/oauth2/v3/certs",
		Scopes:           []string{"openid", "email", "https://www.googleapis.com/auth/calendar"},
	},
	usher.ExternalMicrosoft: {
		// The multi-tenant endpoint: ID tokens name the person's directory
		// in their issuer, so there is no one issuer to check.
		AuthorizationURL: "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
		TokenURL:         "https://login.microsoftonline.com/common/oauth2/v2.0/token",
		UserInfoURL:      "https://graph.microsoft.com/oidc/userinfo",
		JWKSURL:          "https://login.microsoftonline.com/common/discovery/v2.0/keys",
		Scopes:           []string{"openid", "email", "offline_access", "https://graph.microsoft.com/Calendars.ReadWrite"},
	},
}

// withPreset fills x's empty endpoints and scopes from its kind's preset.
func withPreset(x usher.ExternalSystem) usher.ExternalSystem {
	p, ok := presets[x.Kind]
	if !ok {
		return x
	}
	for _, f := range []struct{ v, d *string }{{&x.Issuer, &p.Issuer}, {&x.AuthorizationURL, &p.AuthorizationURL}, {&x.TokenURL, &p.TokenURL},
		{&x.UserInfoURL, &p.UserInfoURL}, {&x.RevocationURL, &p.RevocationURL}, {&x.JWKSURL, &p.JWKSURL}} {
		if *f.v == "" {
			*f.v = *f.d
		}
	}
	if len(x.Scopes) == 0 {
		x.Scopes = p.Scopes
	}
	return x
}

// ExternalSystemInput creates or changes an external system.
type ExternalSystemInput struct {
	usher.ExternalSystem
	Deactivated *bool `json:"deactivated,omitempty"`
}

// SaveExternalSystem creates (id "") or replaces an external system.
// Tenant administrators only. An empty client secret keeps the one kept.
func (s *Service) SaveExternalSystem(ctx context.Context, actor usher.Actor, tenant usher.Tenant, id string, in ExternalSystemInput) (usher.ExternalSystem, error) {
	if err := actor.Require(usher.AdminTenant); err != nil {
		return usher.ExternalSystem{}, err
	}
	x := in.ExternalSystem
	var errs usher.Errors
	add := func(err error) {
		if err != nil {
			errs = append(errs, err.(*usher.Error))
		}
	}
	var err error
	if x.Name, err = usher.CleanText("name", x.Name, 200); err != nil {
		add(err)
	} else if x.Name == "" {
		add(usher.Invalid("name", "is required"))
	}
	oauth := x.Kind != usher.ExternalExchange
	switch x.Kind {
	case usher.ExternalGoogle, usher.ExternalMicrosoft, usher.ExternalOAuth2, usher.ExternalExchange:
	default:
		add(usher.Invalid("kind", "must be google, microsoft, oauth2 or exchange"))
	}
	for _, f := range []struct {
		name string
		v    *string
		bare bool
	}{{"issuer", &x.Issuer, true}, {"authorization_url", &x.AuthorizationURL, false}, {"token_url", &x.TokenURL, false},
		{"userinfo_url", &x.UserInfoURL, false}, {"revocation_url", &x.RevocationURL, false}, {"jwks_url", &x.JWKSURL, false},
		{"ews_url", &x.EWSURL, false}} {
		v, err := usher.CheckURL(f.name, *f.v, f.bare)
		add(err)
		*f.v = v
	}
	if x.ClientID, err = usher.CleanText("client_id", x.ClientID, 255); err != nil {
		add(err)
	}
	if len(x.ClientSecret) > 1024 || strings.ContainsFunc(x.ClientSecret, unicode.IsControl) {
		add(usher.Invalid("client_secret", "must be at most 1024 characters without control characters"))
	}
	var scopes []string
	for i, sc := range x.Scopes {
		for _, one := range strings.Fields(sc) {
			if len(one) > 300 || strings.ContainsAny(one, "\"\\") {
				add(usher.Invalid(fmt.Sprintf("scopes[%d]", i), "%q is not a scope", one))
			} else if !slices.Contains(scopes, one) {
				scopes = append(scopes, one)
			}
		}
	}
	x.Scopes = scopes
	if x.ReminderDays < 0 || x.ReminderDays > 365 {
		add(usher.Invalid("reminder_days", "must be between 0 (no reminder) and 365"))
	}
	if oauth {
		if x.ClientID == "" {
			add(usher.Invalid("client_id", "is required: usher's client at the provider"))
		}
		x.EWSURL = ""
		e := withPreset(x)
		if x.Kind == usher.ExternalOAuth2 && e.Issuer == "" && (e.AuthorizationURL == "" || e.TokenURL == "") {
			add(usher.Invalid("issuer", "give the issuer (its discovery document has the endpoints), or authorization_url and token_url"))
		}
		if x.Kind == usher.ExternalOAuth2 && len(x.Scopes) == 0 {
			add(usher.Invalid("scopes", "name the scopes to ask for (calendar access and offline access)"))
		}
	} else {
		if x.EWSURL == "" {
			add(usher.Invalid("ews_url", "is required: the Exchange server's EWS address (…/EWS/Exchange.asmx)"))
		}
		x.ClientID, x.ClientSecret, x.Scopes = "", "", nil
		x.Issuer, x.AuthorizationURL, x.TokenURL, x.UserInfoURL, x.RevocationURL, x.JWKSURL = "", "", "", "", "", ""
	}
	if err := errs.Err(); err != nil {
		return x, err
	}
	draft := x
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		x = draft // the write may run again: from the input each time
		if id == "" {
			x.ID = store.NewID()
			x.ClientSecret = s.box.Keep(x.ClientSecret, clientSecretPurpose(tenant.ID, x.ID))
			if err := tx.InsertExternalSystem(ctx, tenant.ID, &x); err != nil {
				return err
			}
			return audit(ctx, tx, tenant.ID, actor, "external_system.created", "external_system", x.ID, map[string]string{"kind": x.Kind})
		}
		old, err := tx.ExternalSystem(ctx, tenant.ID, id)
		if err != nil {
			return err
		}
		if old.Kind != x.Kind {
			return usher.Invalid("kind", "cannot change from %s: create another external system", old.Kind)
		}
		x.ID, x.CreatedAt, x.DeactivatedAt = old.ID, old.CreatedAt, old.DeactivatedAt
		// Where usher sends what it keeps (the client secret, people's
		// tokens and Exchange passwords) never changes under them: a new
		// address would receive them all.
		if moved := movedEndpoints(old, x); len(moved) > 0 {
			if oauth && x.ClientSecret == "" {
				return usher.Invalid("client_secret", "enter the client secret again: %s changed", strings.Join(moved, ", "))
			}
			for _, st := range []string{usher.LinkPending, usher.LinkAuthorized, usher.LinkReauthorize} {
				live, _, err := tx.Links(ctx, tenant.ID, store.LinkFilter{ExternalSystemID: old.ID, State: st}, store.ListOptions{Limit: 1})
				if err != nil {
					return err
				}
				if len(live) > 0 && st != usher.LinkPending {
					return usher.Conflict(moved[0], "people's links hold credentials for the address in use: unlink them, or create another external system for the new address")
				}
			}
		}
		if x.ClientSecret == "" || !oauth {
			x.ClientSecret = old.ClientSecret // write-only: absent keeps it
			if !oauth {
				x.ClientSecret = ""
			}
		} else {
			x.ClientSecret = s.box.Keep(x.ClientSecret, clientSecretPurpose(tenant.ID, x.ID))
		}
		action := "external_system.updated"
		if in.Deactivated != nil {
			switch {
			case *in.Deactivated && old.DeactivatedAt == nil:
				now := tx.Now()
				x.DeactivatedAt, action = &now, "external_system.deactivated"
			case !*in.Deactivated && old.DeactivatedAt != nil:
				x.DeactivatedAt, action = nil, "external_system.reactivated"
			}
		}
		if err := tx.UpdateExternalSystem(ctx, tenant.ID, &x); err != nil {
			return err
		}
		return audit(ctx, tx, tenant.ID, actor, action, "external_system", x.ID, nil)
	})
	x.ClientSecret = ""
	return x, err
}

// ExternalSystem returns one of tenant's external systems, its secret
// blanked.
func (s *Service) ExternalSystem(ctx context.Context, tenant usher.Tenant, id string) (usher.ExternalSystem, error) {
	x, err := s.st.Read().ExternalSystem(ctx, tenant.ID, id)
	x.ClientSecret = ""
	return x, err
}

// ExternalSystems lists tenant's external systems, their secrets blanked.
func (s *Service) ExternalSystems(ctx context.Context, tenant usher.Tenant, o store.ListOptions) ([]usher.ExternalSystem, string, error) {
	xs, next, err := s.st.Read().ExternalSystems(ctx, tenant.ID, false, o)
	for i := range xs {
		xs[i].ClientSecret = ""
	}
	return xs, next, err
}

// activeSystem returns an active external system with its secret as kept.
func activeSystem(ctx context.Context, tx *store.Tx, tenantID, id string) (usher.ExternalSystem, error) {
	x, err := tx.ExternalSystem(ctx, tenantID, id)
	if errors.Is(err, usher.ErrNotFound) || (err == nil && x.DeactivatedAt != nil) {
		return x, usher.Unknown("external_system_id", "external system")
	}
	return x, err
}

// clientSecret opens a system's client secret.
func (s *Service) clientSecret(x usher.ExternalSystem) (string, error) {
	return s.box.Reveal(x.ClientSecret, clientSecretPurpose(x.TenantID, x.ID), "external system "+x.ID+"'s client secret")
}

// movedEndpoints names the addresses and client id that differ between
// old and x.
func movedEndpoints(old, x usher.ExternalSystem) []string {
	var out []string
	for _, f := range []struct {
		name     string
		was, now string
	}{{"client_id", old.ClientID, x.ClientID}, {"issuer", old.Issuer, x.Issuer}, {"authorization_url", old.AuthorizationURL, x.AuthorizationURL},
		{"token_url", old.TokenURL, x.TokenURL}, {"userinfo_url", old.UserInfoURL, x.UserInfoURL}, {"revocation_url", old.RevocationURL, x.RevocationURL},
		{"jwks_url", old.JWKSURL, x.JWKSURL}, {"ews_url", old.EWSURL, x.EWSURL}} {
		if f.was != f.now {
			out = append(out, f.name)
		}
	}
	return out
}

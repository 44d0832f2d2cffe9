// Package signup owns sign-up links: the links people register themselves
// through, with the defaults each gives. Using a link is provision's, in the
// transaction that creates the account (tx.UseSignupLink), so a link's uses
// are counted with its accounts.
package signup

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/store"
)

// Service manages the tenants' sign-up links.
type Service struct {
	st  *store.Store
	now func() time.Time
}

// New returns a Service on st. now is the clock (time.Now, but for tests).
func New(st *store.Store, now func() time.Time) *Service {
	return &Service{st: st, now: now}
}

// SignupLinkInput creates or changes a sign-up link. On a change, an absent
// member keeps its value; "" clears an id or the expiry.
type SignupLinkInput struct {
	Name         *string `json:"name,omitempty"`
	DepartmentID *string `json:"department_id,omitempty"`
	JobProfileID *string `json:"job_profile_id,omitempty"`
	RoleID       *string `json:"role_id,omitempty"`
	PlanID       *string `json:"plan_id,omitempty"`
	// ExpiresAt is an RFC 3339 time in the future; "" never expires.
	ExpiresAt *string `json:"expires_at,omitempty"`
	// MaxUses bounds the accounts created through the link; 0 is unlimited.
	MaxUses *int `json:"max_uses,omitempty"`
	// Disabled stops (true) or restarts (false) the link.
	Disabled *bool `json:"disabled,omitempty"`
}

// maxSignupUses bounds max_uses; 0 already means unlimited.
const maxSignupUses = 1_000_000

// signupCodeLen is the length of a code: 128 random bits in base64url.
var signupCodeLen = base64.RawURLEncoding.EncodedLen(16)

// newSignupCode returns a fresh 128-bit random code, URL-safe.
func newSignupCode() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// applySignupInput checks in and writes it into l; every problem is reported at once.
// References are checked later, in the transaction.
func (s *Service) applySignupInput(in SignupLinkInput, l *usher.SignupLink) error {
	var errs usher.Errors
	add := func(err error) {
		var e *usher.Error
		if errors.As(err, &e) {
			errs = append(errs, e)
		}
	}
	if in.Name != nil {
		name, err := usher.CleanText("name", *in.Name, 200)
		if err != nil {
			add(err)
		} else if name == "" {
			add(usher.Invalid("name", "is required"))
		}
		l.Name = name
	}
	for _, ref := range []struct {
		in  *string
		out *string
	}{{in.DepartmentID, &l.DepartmentID}, {in.JobProfileID, &l.JobProfileID}, {in.RoleID, &l.RoleID}, {in.PlanID, &l.PlanID}} {
		if ref.in != nil {
			*ref.out = *ref.in
		}
	}
	if in.ExpiresAt != nil {
		l.ExpiresAt = nil
		if *in.ExpiresAt != "" {
			exp, err := time.Parse(time.RFC3339, *in.ExpiresAt)
			switch {
			case err != nil:
				add(usher.Invalid("expires_at", "%q is not an RFC 3339 time, like 2027-01-31T23:59:59Z", *in.ExpiresAt))
			case !exp.After(s.now()):
				add(usher.Invalid("expires_at", "must be in the future"))
			default:
				exp = exp.UTC().Truncate(time.Microsecond) // as both databases keep it
				l.ExpiresAt = &exp
			}
		}
	}
	if in.MaxUses != nil {
		if *in.MaxUses < 0 || *in.MaxUses > maxSignupUses {
			add(usher.Invalid("max_uses", "must be from 0 (unlimited) to %d", maxSignupUses))
		} else {
			l.MaxUses = *in.MaxUses
		}
	}
	return errs.Err()
}

// checkSignupRefs checks in tx that every default in gives is an active
// entry of the tenant, naming the field of each that is not. Defaults not
// given are not checked again, so a link whose department was deactivated
// since can still be renamed or disabled.
func checkSignupRefs(ctx context.Context, tx *store.Tx, tenantID string, in SignupLinkInput) error {
	var errs usher.Errors
	for _, ref := range []struct {
		field, kind string
		id          *string
	}{
		{"department_id", usher.KindDepartment, in.DepartmentID},
		{"job_profile_id", usher.KindJobProfile, in.JobProfileID},
		{"role_id", usher.KindRole, in.RoleID},
	} {
		if ref.id == nil || *ref.id == "" {
			continue
		}
		a, err := tx.Attribute(ctx, tenantID, ref.kind, *ref.id)
		switch {
		case usher.ErrorCode(err) == usher.CodeNotFound:
			errs = append(errs, usher.Unknown(ref.field, singularKind(ref.kind)))
		case err != nil:
			return err
		case a.DeactivatedAt != nil:
			errs = append(errs, usher.Invalid(ref.field, "the %s is deactivated", singularKind(ref.kind)))
		}
	}
	if in.PlanID != nil && *in.PlanID != "" {
		// A plan's seats are claimed by the accounts, not by the link.
		p, err := tx.Plan(ctx, tenantID, *in.PlanID)
		switch {
		case usher.ErrorCode(err) == usher.CodeNotFound:
			errs = append(errs, usher.Unknown("plan_id", "plan"))
		case err != nil:
			return err
		case p.DeactivatedAt != nil:
			errs = append(errs, usher.Invalid("plan_id", "the plan is deactivated"))
		}
	}
	return errs.Err()
}

func singularKind(kind string) string {
	return map[string]string{usher.KindDepartment: "department", usher.KindJobProfile: "job profile", usher.KindRole: "role"}[kind]
}

func signupDetails(l usher.SignupLink) map[string]string {
	d := map[string]string{"name": l.Name, "max_uses": strconv.Itoa(l.MaxUses)}
	for k, v := range map[string]string{"department_id": l.DepartmentID, "job_profile_id": l.JobProfileID, "role_id": l.RoleID, "plan_id": l.PlanID} {
		if v != "" {
			d[k] = v
		}
	}
	if l.ExpiresAt != nil {
		d["expires_at"] = l.ExpiresAt.Format(time.RFC3339)
	}
	return d
}

// CreateSignupLink makes a sign-up link with a fresh code. User and tenant
// administrators may.
func (s *Service) CreateSignupLink(ctx context.Context, actor usher.Actor, tenant usher.Tenant, in SignupLinkInput) (usher.SignupLink, error) {
	if err := actor.Require(usher.AdminUser); err != nil {
		return usher.SignupLink{}, err
	}
	l := usher.SignupLink{Code: newSignupCode()}
	if in.Name == nil {
		in.Name = new(string) // reported as required
	}
	if err := s.applySignupInput(in, &l); err != nil {
		return l, err
	}
	if in.Disabled != nil && *in.Disabled {
		now := s.now().UTC().Truncate(time.Microsecond)
		l.DisabledAt = &now
	}
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		if err := checkSignupRefs(ctx, tx, tenant.ID, in); err != nil {
			return err
		}
		if err := tx.InsertSignupLink(ctx, tenant.ID, &l); err != nil {
			return err
		}
		return tx.InsertAudit(ctx, tenant.ID, actor.Event("signup_link.created", "signup_link", l.ID, signupDetails(l)))
	})
	return l, err
}

// UpdateSignupLink changes a link's name, defaults, expiry or max uses, or
// disables or re-enables it. Lowering max uses below the uses so far is
// allowed: the link is then used up.
func (s *Service) UpdateSignupLink(ctx context.Context, actor usher.Actor, tenant usher.Tenant, id string, in SignupLinkInput) (usher.SignupLink, error) {
	if err := actor.Require(usher.AdminUser); err != nil {
		return usher.SignupLink{}, err
	}
	var l usher.SignupLink
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		var err error
		if l, err = tx.SignupLink(ctx, tenant.ID, id); err != nil {
			return err
		}
		if err := s.applySignupInput(in, &l); err != nil {
			return err
		}
		if err := checkSignupRefs(ctx, tx, tenant.ID, in); err != nil {
			return err
		}
		action, details := "signup_link.updated", signupDetails(l)
		if in.Disabled != nil {
			l.DisabledAt = provision.Deactivation(*in.Disabled, l.DisabledAt, tx)
			details["disabled"] = strconv.FormatBool(*in.Disabled)
			if *in.Disabled {
				action = "signup_link.disabled"
			}
		}
		if err := tx.UpdateSignupLink(ctx, tenant.ID, &l); err != nil {
			return err
		}
		return tx.InsertAudit(ctx, tenant.ID, actor.Event(action, "signup_link", l.ID, details))
	})
	return l, err
}

// DeactivateSignupLink disables a link; it keeps its code and uses, and can
// be enabled again.
func (s *Service) DeactivateSignupLink(ctx context.Context, actor usher.Actor, tenant usher.Tenant, id string) (usher.SignupLink, error) {
	yes := true
	return s.UpdateSignupLink(ctx, actor, tenant, id, SignupLinkInput{Disabled: &yes})
}

// SignupLink reads one of the tenant's links, whatever its status.
func (s *Service) SignupLink(ctx context.Context, tenant usher.Tenant, id string) (usher.SignupLink, error) {
	return s.st.Read().SignupLink(ctx, tenant.ID, id)
}

// ListSignupLinks lists the tenant's links.
func (s *Service) ListSignupLinks(ctx context.Context, tenant usher.Tenant, f store.SignupLinkFilter, o store.ListOptions) ([]usher.SignupLink, string, error) {
	return s.st.Read().SignupLinks(ctx, tenant.ID, f, o)
}

// SignupLinkByCode is what the registration page calls with the code from
// its address. It returns the link when it can be used now. Otherwise the
// error says why in words a visitor can read, and matches (errors.Is) one
// of usher.ErrSignupLinkUnknown, ErrSignupLinkDisabled, ErrSignupLinkExpired
// or ErrSignupLinkUsedUp; a link that exists is returned with it, its
// Status telling the same. Using the link is tx.UseSignupLink, in the
// transaction that creates the account.
func (s *Service) SignupLinkByCode(ctx context.Context, tenant usher.Tenant, code string) (usher.SignupLink, error) {
	if len(code) != signupCodeLen {
		return usher.SignupLink{}, usher.ErrSignupLinkUnknown // not one of ours: spare the query
	}
	r := s.st.Read()
	l, err := r.SignupLinkByCode(ctx, tenant.ID, code)
	if usher.ErrorCode(err) == usher.CodeNotFound {
		return usher.SignupLink{}, usher.ErrSignupLinkUnknown
	}
	if err != nil {
		return usher.SignupLink{}, err
	}
	return l, l.Refusal(r.Now())
}

// SignupDefaults are the defaults an account created through l gets, to put
// into provision.AccountInput.Defaults.
func SignupDefaults(l usher.SignupLink) provision.Defaults {
	return provision.Defaults{RoleID: l.RoleID, PlanID: l.PlanID, DepartmentID: l.DepartmentID, JobProfileID: l.JobProfileID}
}

package usher

import "time"

// SignupLink lets people register themselves (seed 003's self sign-up "via
// department-specific QR codes or links"). It carries the defaults every
// account created through it gets: a department's link names its department,
// the tenant's link names none. Its Code is the random part of the public
// address; it admits people to a registration form, not to an account, so
// it is stored plainly and administrators may read it again.
type SignupLink struct {
	ID           string `json:"id"`
	TenantID     string `json:"-"`
	Code         string `json:"code"`
	Name         string `json:"name"`
	DepartmentID string `json:"department_id,omitempty"`
	JobProfileID string `json:"job_profile_id,omitempty"`
	RoleID       string `json:"role_id,omitempty"`
	PlanID       string `json:"plan_id,omitempty"`
	// ExpiresAt is when the link stops working; nil never.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// MaxUses bounds the accounts created through the link; 0 is unlimited.
	MaxUses    int        `json:"max_uses"`
	Uses       int        `json:"uses"`
	DisabledAt *time.Time `json:"disabled_at,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	// Status is computed when the link is read: one of the Signup* states.
	Status string `json:"status"`
	// URL is the public address of the link, filled in by the server.
	URL string `json:"url,omitempty"`
}

// States of a sign-up link, in the order they take precedence.
const (
	SignupDisabled = "disabled"
	SignupExpired  = "expired"
	SignupUsedUp   = "used_up"
	SignupActive   = "active"
)

// StatusAt returns the link's state at now.
func (l SignupLink) StatusAt(now time.Time) string {
	switch {
	case l.DisabledAt != nil:
		return SignupDisabled
	case l.ExpiresAt != nil && !l.ExpiresAt.After(now):
		return SignupExpired
	case l.MaxUses > 0 && l.Uses >= l.MaxUses:
		return SignupUsedUp
	}
	return SignupActive
}

// Why a sign-up link refuses, for errors.Is. The errors returned carry a
// more precise message (an expired link says when) and wrap these.
var (
	ErrSignupLinkUnknown  = &Error{Code: CodeNotFound, Field: "code", Message: "this sign-up link does not exist"}
	ErrSignupLinkDisabled = &Error{Code: CodeConflict, Field: "code", Message: "this sign-up link has been disabled"}
	ErrSignupLinkExpired  = &Error{Code: CodeConflict, Field: "code", Message: "this sign-up link has expired"}
	ErrSignupLinkUsedUp   = &Error{Code: CodeConflict, Field: "code", Message: "this sign-up link has been used as often as it allows"}
)

// Refusal returns nil when the link is usable at now, or the error that
// says plainly why not, matching one of the ErrSignupLink* errors.
func (l SignupLink) Refusal(now time.Time) error {
	switch l.StatusAt(now) {
	case SignupDisabled:
		return ErrSignupLinkDisabled
	case SignupExpired:
		return &Error{Code: CodeConflict, Field: "code", Err: ErrSignupLinkExpired,
			Message: "this sign-up link expired on " + l.ExpiresAt.UTC().Format("2 January 2006 at 15:04 UTC")}
	case SignupUsedUp:
		return ErrSignupLinkUsedUp
	}
	return nil
}

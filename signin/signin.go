// Package signin owns how a person gets into a tenant once they have an
// account: the identifier step (seed 000's answers), password checks with
// throttling, one-time passwords that must be replaced, and the sessions that
// follow, one per identity across its tenants.
package signin

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/password"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/store"
)

// Service signs people in. It holds no state beyond its dependencies:
// sessions and counters live in the database, shared by every replica.
type Service struct {
	st   *store.Store
	prov *provision.Service
	now  func() time.Time
}

// New returns a Service on st; prov completes one-time passwords. now is the clock.
func New(st *store.Store, prov *provision.Service, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{st: st, prov: prov, now: now}
}

// What the identifier step leads to.
const (
	StepPassword  = "password"   // ask for the password (or the one-time password)
	StepSSO       = "sso"        // hand over to the corporate SSO connection
	StepInvited   = "invited"    // the invitation is still open: offer a new activation message
	StepNoAccount = "no_account" // no account: offer registration, or say whom to ask
	StepInactive  = "inactive"   // the account is suspended or deactivated
)

// Step is the answer to the identifier a person typed.
type Step struct {
	Kind       string
	Identifier string // as the person typed it, trimmed
	Connection string // the SSO connection's name, for StepSSO
	// CanRegister: the tenant would take a registration for this identifier.
	CanRegister bool
}

// Identify answers the identifier step. When the tenant does not let
// sign-in reveal whether an account exists, every identifier leads to the
// password step (except an email domain owned by an SSO connection, which
// says nothing about accounts), and the password step answers the same for
// all.
func (s *Service) Identify(ctx context.Context, tenant usher.Tenant, identifier string) (Step, error) {
	identifier = strings.TrimSpace(identifier)
	st := Step{Identifier: identifier}
	if identifier == "" {
		return st, usher.Invalid("identifier", "enter your email, username or phone number")
	}
	if len(identifier) > 320 {
		return st, usher.Invalid("identifier", "is longer than any email, username or phone number")
	}
	login := provision.NormalizeLogin(identifier)
	st.CanRegister = provision.RegistrationAllows(tenant, login)
	r := s.st.Read()
	if !tenant.Settings.RevealAccounts {
		if c, ok, err := s.domainConnection(ctx, r, tenant, login); err != nil || ok {
			st.Kind, st.Connection = StepSSO, c.Name
			return st, err
		}
		st.Kind = StepPassword
		return st, nil
	}
	a, err := r.AccountByLogin(ctx, tenant.ID, login)
	switch {
	case errors.Is(err, usher.ErrNotFound):
		c, ok, err := s.domainConnection(ctx, r, tenant, login)
		if err != nil || ok {
			st.Kind, st.Connection = StepSSO, c.Name
			return st, err
		}
		st.Kind = StepNoAccount
		return st, nil
	case err != nil:
		return st, err
	}
	st.CanRegister = false
	switch {
	case a.State == usher.StateSuspended || a.State == usher.StateDeactivated:
		st.Kind = StepInactive
	case a.AuthSystem == usher.AuthConnection:
		st.Kind = StepSSO
		if c, err := r.Connection(ctx, tenant.ID, a.ConnectionID); err == nil {
			st.Connection = c.Name
		}
	case a.State == usher.StateInvited:
		// A person given a one-time password (seed 003) signs in with it.
		st.Kind = StepInvited
		if otp, err := s.pendingOneTime(ctx, r, tenant, a); err != nil {
			return st, err
		} else if otp != nil {
			st.Kind = StepPassword
		}
	default:
		st.Kind = StepPassword
	}
	return st, nil
}

// domainConnection finds the active SSO connection owning the email's domain.
func (s *Service) domainConnection(ctx context.Context, r *store.Tx, tenant usher.Tenant, login string) (usher.Connection, bool, error) {
	d := provision.EmailDomain(login)
	if d == "" || !strings.Contains(login, "@") {
		return usher.Connection{}, false, nil
	}
	conns, match, err := r.ConnectionCandidates(ctx, tenant.ID, d)
	if err != nil || !match {
		return usher.Connection{}, false, err
	}
	return conns[0], true, nil
}

// pendingOneTime returns the account's usable one-time password, if any.
func (s *Service) pendingOneTime(ctx context.Context, r *store.Tx, tenant usher.Tenant, a usher.Account) (*store.Activation, error) {
	acts, err := r.Activations(ctx, tenant.ID, a.ID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	for i := len(acts) - 1; i >= 0; i-- {
		x := acts[i]
		if x.Kind == "otp" && x.UsedAt == nil && x.ExpiresAt.After(now) && x.Attempts < provision.MaxAttempts {
			return &x, nil
		}
	}
	return nil, nil
}

// Errors of the password step. ErrCredentials never says which part was wrong.
var (
	ErrCredentials = &usher.Error{Code: usher.CodeUnauthorized, Field: "password", Message: "the identifier or the password is not right"}
	ErrNeedsSSO    = &usher.Error{Code: usher.CodeForbidden, Field: "session", Message: "this organization signs you in with its single sign-on"}
)

// ThrottledError says how long to wait before the next attempt.
type ThrottledError struct{ RetryAfter time.Duration }

func (e *ThrottledError) Error() string {
	return "too many attempts: try again in " + e.RetryAfter.Round(time.Second).String()
}

// Attempt is one password sign-in.
type Attempt struct {
	Identifier string
	Password   string
	Source     string // the client address
	UserAgent  string
	// Device is the secret of the browser's device cookie, if it has one:
	// a browser that signed in to the account before keeps its own counter.
	Device string
}

// The longest session timeouts a tenant may choose (see provision's settings checks).
const (
	maxIdle = 30 * 24 * time.Hour
	maxAge  = 365 * 24 * time.Hour
)

// Result is a successful password step: a new session, or, for a one-time
// password, the demand to choose a new one first (no session yet).
type Result struct {
	Account usher.Account
	Session usher.Session
	Secret  string // the session cookie's value
	// MustChoose: the password was a one-time password; the person must
	// choose their own (provision.ActivateWithOneTimePassword) before anything else.
	MustChoose bool
}

// SignIn checks a password. Attempts are counted before the check, per
// account (or known device) and per source address, so a burst of parallel
// guesses meets the counter one at a time and only the free attempts are
// ever checked. Unknown identifiers cost one hash like wrong passwords.
func (s *Service) SignIn(ctx context.Context, tenant usher.Tenant, in Attempt) (Result, error) {
	login := provision.NormalizeLogin(in.Identifier)
	if login == "" || len(login) > 320 {
		return Result{}, usher.Invalid("identifier", "enter your email, username or phone number")
	}
	if in.Password == "" {
		return Result{}, usher.Invalid("password", "enter your password")
	}
	if len(in.Password) > 4*password.MaxLength {
		return Result{}, ErrCredentials
	}
	r := s.st.Read()
	a, err := r.AccountByLogin(ctx, tenant.ID, login)
	found := err == nil
	if err != nil && !errors.Is(err, usher.ErrNotFound) {
		return Result{}, err
	}
	acctKey := "login:" + tenant.ID + ":" + login
	device := ""
	if found {
		acctKey = "account:" + a.ID
		if in.Device != "" {
			device = provision.HashSecret(in.Device)
			if known, err := r.KnownDevice(ctx, a.ID, device); err != nil {
				return Result{}, err
			} else if known {
				acctKey = "device:" + a.ID + ":" + device
			}
		}
	}
	// The source's counter is read here and counted after a failure; the
	// account's is counted before the check, so a burst meets it one at a time.
	if err := s.sourceOpen(ctx, in.Source); err != nil {
		return Result{}, err
	}
	if err := s.reserve(ctx, []string{acctKey}); err != nil {
		return Result{}, err
	}
	res, err := s.check(ctx, r, tenant, a, found, acctKey, in)
	if errors.Is(err, ErrCredentials) {
		var te *ThrottledError
		if rerr := s.reserve(ctx, []string{sourceKey(in.Source)}); rerr != nil && !errors.As(rerr, &te) {
			return Result{}, rerr
		}
	}
	return res, err
}

// check verifies the password of a (found or not), after its attempt was counted.
func (s *Service) check(ctx context.Context, r *store.Tx, tenant usher.Tenant, a usher.Account, found bool, acctKey string, in Attempt) (Result, error) {
	usable := found && a.AuthSystem == usher.AuthPassword && (a.State == usher.StateActive || a.State == usher.StateInvited)
	if !usable {
		if err := password.VerifyNone(ctx, in.Password); err != nil {
			return Result{}, err
		}
		return Result{}, ErrCredentials
	}
	if a.State == usher.StateActive && a.IdentityID != "" {
		h, err := r.IdentityPassword(ctx, a.IdentityID)
		if err != nil {
			return Result{}, err
		}
		ok, err := password.Verify(ctx, h, in.Password)
		if err != nil {
			return Result{}, err
		}
		if ok {
			return s.start(ctx, tenant, a, acctKey, in)
		}
	}
	otp, err := s.pendingOneTime(ctx, r, tenant, a)
	if err != nil {
		return Result{}, err
	}
	if otp != nil {
		ok, err := password.Verify(ctx, otp.SecretHash, in.Password)
		if err != nil {
			return Result{}, err
		}
		if ok {
			return Result{Account: a, MustChoose: true}, nil
		}
	} else if a.State != usher.StateActive || a.IdentityID == "" {
		// Nothing to check against: spend the time anyway.
		if err := password.VerifyNone(ctx, in.Password); err != nil {
			return Result{}, err
		}
	}
	return Result{}, ErrCredentials
}

// start opens a session for a, clears the account's counter, remembers the
// device and writes the audit event, in one transaction.
func (s *Service) start(ctx context.Context, tenant usher.Tenant, a usher.Account, acctKey string, in Attempt) (Result, error) {
	secret, hash := provision.NewSecret()
	ses := usher.Session{IdentityID: a.IdentityID, TenantID: tenant.ID, Method: usher.AuthPassword, Source: in.Source, UserAgent: clip(in.UserAgent, 300)}
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		// Sessions past the longest timeouts a tenant may set are gone everywhere.
		now := tx.Now()
		if err := tx.DeleteStaleSessions(ctx, a.IdentityID, now.Add(-maxIdle), now.Add(-maxAge)); err != nil {
			return err
		}
		if err := tx.InsertSession(ctx, &ses, hash); err != nil {
			return err
		}
		if err := tx.ClearThrottle(ctx, acctKey); err != nil {
			return err
		}
		if in.Device != "" {
			if err := tx.AddKnownDevice(ctx, a.ID, provision.HashSecret(in.Device)); err != nil {
				return err
			}
		}
		return tx.InsertAudit(ctx, tenant.ID, &usher.AuditEvent{ActorKind: "account", ActorID: a.ID, Action: "account.signed_in",
			TargetKind: "account", TargetID: a.ID, Source: in.Source, Details: map[string]string{"method": usher.AuthPassword}})
	})
	if err != nil {
		return Result{}, err
	}
	return Result{Account: a, Session: ses, Secret: secret}, nil
}

// Start opens a session for an account that has just proved itself another
// way (activation with a new password, or a one-time password replaced).
func (s *Service) Start(ctx context.Context, tenant usher.Tenant, a usher.Account, source, userAgent, device string) (Result, error) {
	if a.IdentityID == "" || a.State != usher.StateActive {
		return Result{}, ErrCredentials
	}
	return s.start(ctx, tenant, a, "account:"+a.ID, Attempt{Source: source, UserAgent: userAgent, Device: device})
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

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
	"github.com/usherhq/usher/apitoken"
	"github.com/usherhq/usher/password"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/secret"
	"github.com/usherhq/usher/store"
)

// Service signs people in. It holds no state beyond its dependencies:
// sessions and counters live in the database, shared by every replica.
type Service struct {
	st   *store.Store
	prov *provision.Service
	// tokens checks operator tokens at sign-in.
	tokens *apitoken.Service
	now    func() time.Time
	// verify checks one password against one hash (none: spends the time);
	// tests count the hashes through it.
	verify func(ctx context.Context, phc, pw string) (bool, error)
	// everywhere runs in the transaction that signs an identity out
	// everywhere else; see OnSignOutEverywhere.
	everywhere []func(ctx context.Context, tx *store.Tx, identity, keep string) error
	// signOut runs in the transaction that ends one session; see OnSignOut.
	signOut []func(ctx context.Context, tx *store.Tx, session usher.Session) error
}

// New returns a Service on st. now is the clock. prov completes one-time
// passwords, and from now on checks the passwords typed at activation (a
// one-time password replaced, an identity joined) with CheckPassword.
func New(st *store.Store, prov *provision.Service, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	s := &Service{st: st, prov: prov, tokens: apitoken.New(st, now), now: now, verify: verify}
	if prov != nil {
		prov.CheckPasswordsWith(s.activationCheck)
	}
	return s
}

// activationCheck is CheckPassword for provision's activation steps. Their
// pages know no throttle, so a refusal is an input error that says how long
// to wait; errors.As still finds the *ThrottledError in it.
func (s *Service) activationCheck(ctx context.Context, g provision.PasswordGuess) (int, error) {
	i, err := s.CheckPassword(ctx, Guess{TenantID: g.TenantID, Account: g.Account, Identity: g.Identity, Login: g.Login, Source: g.Source, Password: g.Password, Hashes: g.Hashes})
	var te *ThrottledError
	switch {
	case errors.Is(err, ErrCredentials):
		return -1, nil
	case errors.As(err, &te):
		return -1, &usher.Error{Code: usher.CodeInvalid, Message: te.Error(), Err: te}
	}
	return i, err
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
	Kind         string
	Identifier   string // as the person typed it, trimmed
	Connection   string // the SSO connection's name, for StepSSO
	ConnectionID string
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
	login := usher.NormalizeLogin(identifier)
	st.CanRegister = provision.RegistrationAllows(tenant, login)
	r := s.st.Read()
	if !tenant.Settings.RevealAccounts {
		if c, err := s.domainConnection(ctx, tenant, login); err != nil {
			return st, err
		} else if c != nil {
			st.Kind, st.Connection, st.ConnectionID = StepSSO, c.Name, c.ID
			return st, nil
		}
		st.Kind = StepPassword
		return st, nil
	}
	a, err := r.AccountByLogin(ctx, tenant.ID, login)
	switch {
	case errors.Is(err, usher.ErrNotFound):
		if c, err := s.domainConnection(ctx, tenant, login); err != nil {
			return st, err
		} else if c != nil {
			st.Kind, st.Connection, st.ConnectionID = StepSSO, c.Name, c.ID
			return st, nil
		}
		st.Kind = StepNoAccount
		return st, nil
	case err != nil:
		return st, err
	}
	st.CanRegister = false
	enforced, err := s.enforced(ctx, tenant, a.Email)
	if err != nil {
		return st, err
	}
	switch {
	case a.State == usher.StateSuspended || a.State == usher.StateDeactivated:
		st.Kind = StepInactive
	case a.AuthSystem == usher.AuthConnection:
		st.Kind = StepSSO
		realm, err := s.prov.HomeRealm(ctx, tenant, login, &a)
		if err != nil {
			return st, err
		}
		if realm.Connection != nil {
			st.Connection, st.ConnectionID = realm.Connection.Name, realm.Connection.ID
		}
	case a.AuthSystem == usher.AuthPassword && enforced != nil:
		// The email's domain belongs to an enforced connection: never a password.
		st.Kind, st.Connection, st.ConnectionID = StepSSO, enforced.Name, enforced.ID
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

// enforced is the enforced connection owning email's domain, or nil.
func (s *Service) enforced(ctx context.Context, tenant usher.Tenant, email string) (*usher.Connection, error) {
	if s.prov == nil {
		return nil, nil
	}
	return s.prov.Enforced(ctx, tenant, email)
}

// domainConnection is the connection owning the email's domain, or nil.
func (s *Service) domainConnection(ctx context.Context, tenant usher.Tenant, login string) (*usher.Connection, error) {
	realm, err := s.prov.HomeRealm(ctx, tenant, login, nil)
	return realm.Owner(), err
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
	// connection is the SSO connection of a sign-in through one (StartSSO).
	connection string
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

// SignIn checks a password through CheckPassword's counters: per account
// (or known device, or unknown identifier) and per source address, reserved
// before the hash.
func (s *Service) SignIn(ctx context.Context, tenant usher.Tenant, in Attempt) (Result, error) {
	login := usher.NormalizeLogin(in.Identifier)
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
	g := Guess{TenantID: tenant.ID, Login: login, Source: in.Source, Device: in.Device, Password: in.Password}
	a, err := r.AccountByLogin(ctx, tenant.ID, login)
	switch {
	case errors.Is(err, usher.ErrNotFound):
	case err != nil:
		return Result{}, err
	default:
		g.Account = &a
	}
	// What the password may match: the identity's password, then a pending
	// one-time password. An account that cannot sign in with a password
	// has nothing to match and costs the same.
	identity, oneTime := -1, -1
	usable := g.Account != nil && a.AuthSystem == usher.AuthPassword && (a.State == usher.StateActive || a.State == usher.StateInvited)
	if usable {
		// Not where an enforced connection owns the email's domain.
		c, err := s.enforced(ctx, tenant, a.Email)
		if err != nil {
			return Result{}, err
		}
		usable = c == nil
	}
	if usable {
		if a.State == usher.StateActive && a.IdentityID != "" {
			h, err := r.IdentityPassword(ctx, a.IdentityID)
			if err != nil {
				return Result{}, err
			}
			identity, g.Hashes = len(g.Hashes), append(g.Hashes, h)
		}
		otp, err := s.pendingOneTime(ctx, r, tenant, a)
		if err != nil {
			return Result{}, err
		}
		if otp != nil {
			oneTime, g.Hashes = len(g.Hashes), append(g.Hashes, otp.SecretHash)
		}
	}
	match, c, err := s.guess(ctx, g)
	switch {
	case err != nil:
		return Result{}, err
	case match == oneTime:
		// Not a session yet, but a success: the person chooses a password next.
		if err := s.st.Write(ctx, func(tx *store.Tx) error { return c.settle(ctx, tx) }); err != nil {
			return Result{}, err
		}
		return Result{Account: a, MustChoose: true}, nil
	case match != identity:
		return Result{}, ErrCredentials
	}
	// The password is right: a hash made with older parameters is made
	// again with today's, outside the transaction (SQLite has one writer),
	// and replaced in the session's.
	var re *rehash
	if old := g.Hashes[identity]; password.NeedsRehash(old) {
		h, err := password.Hash(ctx, in.Password)
		if err != nil {
			return Result{}, err
		}
		re = &rehash{old: old, new: h}
	}
	return s.start(ctx, tenant, a, c, in, re)
}

// rehash is an identity's password hash to replace by a new hash of the
// same password.
type rehash struct{ old, new string }

// Guess is one password to check under the counters.
type Guess struct {
	TenantID string
	// Account is the account the password is typed for; nil when none
	// answers Login, which then has a counter of its own in the tenant.
	Account *usher.Account
	// Identity is set when the password is an existing identity's that
	// stands behind no account here yet (an activation joining it): it is
	// counted under the identity instead of the account.
	Identity string
	Login    string // the identifier as normalized
	Source   string // the client address
	// Device is the secret of the browser's device cookie, if any: a browser
	// that signed in to the account before has a counter of its own.
	Device   string
	Password string
	// Hashes are what Password may match, tried in order. With none, one
	// verification's time is spent and the guess fails, so an unknown
	// identifier costs what a known one does.
	Hashes []string
}

// CheckPassword is the one password check under the counters, for every
// place that verifies a password (sign-in, change password, the one-time
// password's replacement, an activation joining an existing identity). An
// attempt is reserved under the source address and under the account (its
// known device instead, or the identity joined, or the unknown identifier)
// before any hash, so
// parallel guesses get no more verifications than the counters allow. It
// returns the index of the hash that matched; ErrCredentials when none did;
// *ThrottledError, with nothing verified, when a counter is locked. A
// success gives the source its attempt back and clears the account's counter.
func (s *Service) CheckPassword(ctx context.Context, g Guess) (int, error) {
	match, c, err := s.guess(ctx, g)
	if err != nil {
		return -1, err
	}
	return match, s.st.Write(ctx, func(tx *store.Tx) error { return c.settle(ctx, tx) })
}

// guess is CheckPassword leaving a success's claim to the caller, to settle
// in the transaction that acts on the success.
func (s *Service) guess(ctx context.Context, g Guess) (int, claim, error) {
	c := claim{source: sourceKey(g.Source), key: "login:" + g.TenantID + ":" + g.Login}
	if g.Identity != "" {
		c.key = "identity:" + g.Identity
	} else if a := g.Account; a != nil {
		c.key = "account:" + a.ID
		if g.Device != "" {
			device := secret.Hash(g.Device)
			if known, err := s.st.Read().KnownDevice(ctx, a.ID, device); err != nil {
				return -1, c, err
			} else if known {
				c.key = "device:" + a.ID + ":" + device
			}
		}
	}
	if err := s.reserve(ctx, c); err != nil {
		return -1, c, err
	}
	match, err := s.match(ctx, g)
	if err != nil {
		return -1, c, err
	}
	if match < 0 {
		if err := s.failed(ctx, c); err != nil {
			return -1, c, err
		}
		return -1, c, ErrCredentials
	}
	return match, c, nil
}

// match returns the index of the first of g's hashes that its password
// matches, or -1.
func (s *Service) match(ctx context.Context, g Guess) (int, error) {
	if len(g.Hashes) == 0 {
		_, err := s.verify(ctx, "", g.Password)
		return -1, err
	}
	for i, h := range g.Hashes {
		ok, err := s.verify(ctx, h, g.Password)
		if err != nil || ok {
			return i, err
		}
	}
	return -1, nil
}

// verify is password.Verify, or password.VerifyNone for an empty hash.
func verify(ctx context.Context, phc, pw string) (bool, error) {
	if phc == "" {
		return false, password.VerifyNone(ctx, pw)
	}
	return password.Verify(ctx, phc, pw)
}

// start opens a session for a, remembers the device, writes the audit event,
// replaces the password hash when re says so, and settles the claim of the
// check that let a in, in one transaction.
func (s *Service) start(ctx context.Context, tenant usher.Tenant, a usher.Account, c claim, in Attempt, re *rehash) (Result, error) {
	cookie, hash := secret.New()
	ses := usher.Session{IdentityID: a.IdentityID, TenantID: tenant.ID, Method: usher.AuthPassword, Source: in.Source, UserAgent: clip(in.UserAgent, 300)}
	details := map[string]string{"method": usher.AuthPassword}
	if in.connection != "" {
		ses.Method, ses.ConnectionID = usher.AuthConnection, in.connection
		details = map[string]string{"method": usher.AuthConnection, "connection_id": in.connection}
	}
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		// Sessions past the longest timeouts a tenant may set are gone everywhere.
		now := tx.Now()
		if err := tx.DeleteStaleSessions(ctx, a.IdentityID, now.Add(-maxIdle), now.Add(-maxAge)); err != nil {
			return err
		}
		if err := tx.InsertSession(ctx, &ses, hash); err != nil {
			return err
		}
		if re != nil {
			if err := tx.RehashIdentityPassword(ctx, a.IdentityID, re.old, re.new); err != nil {
				return err
			}
		}
		if in.Device != "" {
			if err := tx.AddKnownDevice(ctx, a.ID, secret.Hash(in.Device)); err != nil {
				return err
			}
		}
		if err := tx.InsertAudit(ctx, tenant.ID, usher.Actor{Kind: usher.ActorAccount, ID: a.ID, Source: in.Source}.Event("account.signed_in", "account", a.ID, details)); err != nil {
			return err
		}
		return c.settle(ctx, tx)
	})
	if err != nil {
		return Result{}, err
	}
	return Result{Account: a, Session: ses, Secret: cookie}, nil
}

// Start opens a session for an account that has just proved itself another
// way (activation with a new password, or a one-time password replaced).
func (s *Service) Start(ctx context.Context, tenant usher.Tenant, a usher.Account, source, userAgent, device string) (Result, error) {
	if a.IdentityID == "" || a.State != usher.StateActive {
		return Result{}, ErrCredentials
	}
	return s.start(ctx, tenant, a, claim{key: "account:" + a.ID}, Attempt{Source: source, UserAgent: userAgent, Device: device}, nil)
}

// StartSSO opens a session for an account that has just signed in through
// its corporate SSO connection (package sso checked the identity provider's
// answer, provision tied or created the account). The session serves only
// accounts on that connection.
func (s *Service) StartSSO(ctx context.Context, tenant usher.Tenant, a usher.Account, source, userAgent, device string) (Result, error) {
	if a.IdentityID == "" || a.State != usher.StateActive || a.AuthSystem != usher.AuthConnection || a.ConnectionID == "" {
		return Result{}, ErrCredentials
	}
	return s.start(ctx, tenant, a, claim{key: "account:" + a.ID}, Attempt{Source: source, UserAgent: userAgent, Device: device, connection: a.ConnectionID}, nil)
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

package provision

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math/big"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/password"
	"github.com/usherhq/usher/secret"
	"github.com/usherhq/usher/store"
)

// Activation rules.
const (
	CodeTTL        = 10 * time.Minute // an SMS code is typed within minutes
	CodeDigits     = 6
	MaxAttempts    = 5 // wrong codes or one-time passwords before the secret locks
	OneTimeTTL     = 72 * time.Hour
	minOneTimeLen  = 8
	generatedOTLen = 10
)

// Errors a person can meet on the activation pages. They say what happened
// to the link, never whether an account exists.
var (
	ErrActivationUnknown = &usher.Error{Code: usher.CodeNotFound, Field: "secret", Message: "this activation link is not valid"}
	ErrActivationUsed    = &usher.Error{Code: usher.CodeConflict, Field: "secret", Message: "this activation link was used already"}
	ErrActivationExpired = &usher.Error{Code: usher.CodeConflict, Field: "secret", Message: "this activation link has expired"}
	ErrCodeInvalid       = &usher.Error{Code: usher.CodeInvalid, Field: "code", Message: "the code or one-time password is not right, or no longer valid"}
)

// PasswordGuess is a password typed at activation, for PasswordCheck.
type PasswordGuess struct {
	TenantID string
	Account  *usher.Account // the account acted for; nil when none answers Login
	// Identity is set when the password is an existing identity's, which
	// the account is joining: it is counted under the identity.
	Identity string
	Login    string // the identifier as normalized
	Source   string // the client address
	Password string
	Hashes   []string // what Password may match, in order; none: spend one verification's time and fail
}

// PasswordCheck verifies a guess under the sign-in counters, reserved
// before any hash, and returns the index of the hash that matched, or -1.
// signin.Service provides it (signin.New sets it).
type PasswordCheck func(ctx context.Context, g PasswordGuess) (int, error)

// CheckPasswordsWith makes the activation steps that verify a password (a
// one-time password replaced, an identity joined) go through check. Without
// it they verify directly, uncounted.
func (s *Service) CheckPasswordsWith(check PasswordCheck) { s.checkPassword = check }

// verifyPassword is the activation steps' one way to verify a password.
func (s *Service) verifyPassword(ctx context.Context, g PasswordGuess) (int, error) {
	if s.checkPassword != nil {
		return s.checkPassword(ctx, g)
	}
	if len(g.Hashes) == 0 {
		return -1, password.VerifyNone(ctx, g.Password)
	}
	for i, h := range g.Hashes {
		if ok, err := password.Verify(ctx, h, g.Password); err != nil || ok {
			return i, err
		}
	}
	return -1, nil
}

// Modes of an activation page.
const (
	ModeChoosePassword  = "choose_password"  // a new identity: choose a password
	ModeConfirmIdentity = "confirm_identity" // the email already signs in elsewhere: join it, signed in
	ModeSSO             = "sso"              // the account signs in with the corporate SSO connection
)

// Redemption is what a valid activation link leads to.
type Redemption struct {
	Account        usher.Account
	Person         usher.Person
	Mode           string
	ConnectionName string
	// JoinIdentity is the identity an account in ModeConfirmIdentity joins.
	JoinIdentity string
	activation   store.Activation
}

// Inspect reads a link secret without using it, for the activation page.
func (s *Service) Inspect(ctx context.Context, tenant usher.Tenant, link string) (Redemption, error) {
	r := s.st.Read()
	act, err := r.ActivationByHash(ctx, tenant.ID, secret.Hash(link))
	if err != nil {
		if errors.Is(err, usher.ErrNotFound) {
			return Redemption{}, ErrActivationUnknown
		}
		return Redemption{}, err
	}
	if act.UsedAt != nil {
		return Redemption{}, ErrActivationUsed
	}
	if !act.ExpiresAt.After(s.now()) {
		return Redemption{}, ErrActivationExpired
	}
	a, err := r.Account(ctx, tenant.ID, act.AccountID)
	if err != nil {
		return Redemption{}, err
	}
	if a.State == usher.StateDeactivated || a.State == usher.StateSuspended {
		return Redemption{}, ErrActivationUnknown
	}
	p, err := r.Person(ctx, tenant.ID, a.PersonID)
	if err != nil {
		return Redemption{}, err
	}
	red := Redemption{Account: a, Person: p, Mode: ModeChoosePassword, activation: act}
	enforced, err := s.enforced(ctx, r, tenant, a.Email)
	if err != nil {
		return Redemption{}, err
	}
	switch {
	case enforced != nil:
		red.Mode, red.ConnectionName = ModeSSO, enforced.Name
	case a.AuthSystem == usher.AuthConnection:
		red.Mode = ModeSSO
		if c, err := r.Connection(ctx, tenant.ID, a.ConnectionID); err == nil {
			red.ConnectionName = c.Name
		}
	case a.IdentityID == "" && a.Email != "":
		if id, err := r.IdentityByEmail(ctx, a.Email); err == nil {
			red.Mode, red.JoinIdentity = ModeConfirmIdentity, id.ID
		} else if !errors.Is(err, usher.ErrNotFound) {
			return Redemption{}, err
		}
	}
	return red, nil
}

// ActivateWithLink completes an activation link with a new password, or,
// when the email already has an identity, by joining it (seed 000: one
// sign-in for both). Joining needs the identity's owner signed in: signedIn
// is the identity of the browser's session ("" when none). Holding the link
// is not enough, since another tenant's administrator can read it.
func (s *Service) ActivateWithLink(ctx context.Context, tenant usher.Tenant, secret, pw, signedIn, source string) (usher.Account, error) {
	red, err := s.Inspect(ctx, tenant, secret)
	if err != nil {
		return usher.Account{}, err
	}
	if red.Mode == ModeSSO {
		return usher.Account{}, usher.Invalid("password", "this account signs in with %s, not a password", red.ConnectionName)
	}
	return s.complete(ctx, tenant, red.Account, red.activation, red.Mode, pw, signedIn, source)
}

// ActivateWithCode completes an activation with the code of an SMS, typed
// with the phone number (or another sign-in identifier) of the account.
func (s *Service) ActivateWithCode(ctx context.Context, tenant usher.Tenant, identifier, code, pw, signedIn, source string) (usher.Account, error) {
	return s.activateTyped(ctx, tenant, "code", identifier, strings.TrimSpace(code), pw, signedIn, source)
}

// ActivateWithOneTimePassword completes a one-time password set by an
// administrator: it works once, and the person must choose a new password
// there and then.
func (s *Service) ActivateWithOneTimePassword(ctx context.Context, tenant usher.Tenant, identifier, otp, pw, signedIn, source string) (usher.Account, error) {
	if pw == otp {
		return usher.Account{}, usher.Invalid("password", "choose a new password, not the one-time password")
	}
	return s.activateTyped(ctx, tenant, "otp", identifier, otp, pw, signedIn, source)
}

func (s *Service) activateTyped(ctx context.Context, tenant usher.Tenant, kind, identifier, secret, pw, signedIn, source string) (usher.Account, error) {
	r := s.st.Read()
	login := usher.NormalizeLogin(identifier)
	a, err := r.AccountByLogin(ctx, tenant.ID, login)
	if err != nil {
		if errors.Is(err, usher.ErrNotFound) {
			// Spend the time a check would, so timing does not tell; a
			// one-time password counts like any password guess.
			if kind == "otp" {
				if _, err := s.verifyPassword(ctx, PasswordGuess{TenantID: tenant.ID, Login: login, Source: source, Password: secret}); err != nil {
					return usher.Account{}, err
				}
			} else {
				_, _ = password.Verify(ctx, dummyHash(), secret)
			}
			return usher.Account{}, ErrCodeInvalid
		}
		return usher.Account{}, err
	}
	acts, err := r.Activations(ctx, tenant.ID, a.ID)
	if err != nil {
		return usher.Account{}, err
	}
	var cand *store.Activation
	for i := len(acts) - 1; i >= 0; i-- {
		x := acts[i]
		if x.Kind == kind && x.UsedAt == nil && x.ExpiresAt.After(s.now()) && x.Attempts < MaxAttempts {
			cand = &x
			break
		}
	}
	usable := cand != nil && (a.State == usher.StateInvited || a.State == usher.StateActive) && a.AuthSystem == usher.AuthPassword
	ok := false
	switch {
	case kind == "otp":
		// Counted and timed the same whether or not there is a one-time password to match.
		var hashes []string
		if usable {
			hashes = []string{cand.SecretHash}
		}
		i, err := s.verifyPassword(ctx, PasswordGuess{TenantID: tenant.ID, Account: &a, Login: login, Source: source, Password: secret, Hashes: hashes})
		if err != nil {
			return usher.Account{}, err
		}
		ok = i == 0
	case usable:
		ok = codeHash(a.ID, secret) == cand.SecretHash
	}
	if !usable {
		return usher.Account{}, ErrCodeInvalid
	}
	if !ok {
		err := s.st.Write(ctx, func(tx *store.Tx) error {
			n, err := tx.CountAttempt(ctx, tenant.ID, cand.ID)
			if err == nil && n >= MaxAttempts {
				err = tx.UseActivation(ctx, tenant.ID, cand.ID) // locked
			}
			return err
		})
		if err != nil && !errors.Is(err, usher.ErrConflict) {
			return usher.Account{}, err
		}
		return usher.Account{}, ErrCodeInvalid
	}
	mode := ModeChoosePassword
	if a.IdentityID == "" && a.Email != "" {
		if _, err := r.IdentityByEmail(ctx, a.Email); err == nil {
			mode = ModeConfirmIdentity
		}
	}
	return s.complete(ctx, tenant, a, *cand, mode, pw, signedIn, source)
}

// activationUsed reads again whether act was used (or revoked).
func (s *Service) activationUsed(ctx context.Context, tenant usher.Tenant, act store.Activation) (bool, error) {
	acts, err := s.st.Read().Activations(ctx, tenant.ID, act.AccountID)
	if err != nil {
		return false, err
	}
	for _, x := range acts {
		if x.ID == act.ID {
			return x.UsedAt != nil, nil
		}
	}
	return true, nil // gone: revoked
}

// ErrSignInToJoin: the account's email already signs in for another
// organization, and joining it takes that sign-in, not the activation link.
var ErrSignInToJoin = &usher.Error{Code: usher.CodeInvalid, Field: "password",
	Message: "this email address already signs in for another organization: sign in as you usually do, then open this link again"}

// complete uses the activation and activates the account, creating or
// joining its identity, in one transaction. Hashing happens before it, so
// the transaction stays short.
func (s *Service) complete(ctx context.Context, tenant usher.Tenant, a usher.Account, act store.Activation, mode, pw, signedIn, source string) (usher.Account, error) {
	if c, err := s.Enforced(ctx, tenant, a.Email); err != nil {
		return usher.Account{}, err
	} else if c != nil {
		return usher.Account{}, errPasswordEnforced(c)
	}
	var hash, joinID string
	switch {
	case mode == ModeConfirmIdentity:
		id, err := s.st.Read().IdentityByEmail(ctx, a.Email)
		if err != nil {
			return usher.Account{}, err
		}
		if signedIn == "" || signedIn != id.ID {
			// A link used meanwhile (its identity is then the one just made,
			// by a racing activation) says so, not that a sign-in is needed.
			if used, err := s.activationUsed(ctx, tenant, act); err != nil {
				return usher.Account{}, err
			} else if used {
				return usher.Account{}, ErrActivationUsed
			}
			return usher.Account{}, ErrSignInToJoin
		}
		joinID = id.ID
	default:
		if err := password.Check("password", pw, a.Email, a.Username); err != nil {
			return usher.Account{}, err
		}
		var err error
		if hash, err = password.Hash(ctx, pw); err != nil {
			return usher.Account{}, err
		}
	}
	var told Outbox
	if joinID != "" {
		// The person hears of it by email, in case it was not them.
		p, err := s.st.Read().Person(ctx, tenant.ID, a.PersonID)
		if err != nil {
			return usher.Account{}, err
		}
		m, err := s.render(KindIdentityJoined, usher.ChannelEmail, renderData{tenant: tenant, person: p, account: a, link: s.links.SignIn(tenant)})
		if err != nil {
			return usher.Account{}, err
		}
		m.AccountID, m.To = a.ID, a.Email
		m.DedupeKey = a.ID + "/" + secret.Hash(KindIdentityJoined+"|"+joinID)
		told.msgs = append(told.msgs, m)
	}
	actor := usher.Actor{Kind: usher.ActorAccount, ID: a.ID, Source: source}
	var out usher.Account
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		if err := tx.UseActivation(ctx, tenant.ID, act.ID); err != nil {
			return ErrActivationUsed
		}
		cur, err := tx.Account(ctx, tenant.ID, a.ID)
		if err != nil {
			return err
		}
		if cur.State != usher.StateInvited && cur.State != usher.StateActive {
			return ErrActivationUnknown
		}
		next := cur
		switch {
		case joinID != "":
			next.IdentityID = joinID
		case cur.IdentityID != "":
			// A reset: the identity keeps its id and gets the new password.
			if err := tx.SetIdentityPassword(ctx, cur.IdentityID, hash); err != nil {
				return err
			}
		default:
			id := usher.Identity{Email: cur.Email}
			if err := tx.InsertIdentity(ctx, &id, hash); err != nil {
				return err
			}
			next.IdentityID = id.ID
		}
		action := "account.password_reset"
		if cur.State == usher.StateInvited {
			action = "account.activated"
			now := tx.Now()
			next.State, next.ActivatedAt = usher.StateActive, &now
		}
		next.InviteExpiresAt = nil
		if err := tx.RevokeActivations(ctx, tenant.ID, cur.ID); err != nil {
			return err
		}
		if err := tx.UpdateAccount(ctx, tenant.ID, &cur, &next); err != nil {
			return err
		}
		details := map[string]string{"with": act.Kind}
		if joinID != "" {
			details["joined_identity"] = joinID
		}
		out = next
		out.Invitation = ""
		if err := audit(ctx, tx, tenant.ID, actor, action, "account", cur.ID, details); err != nil {
			return err
		}
		_, err = told.Queue(ctx, tx, tenant.ID)
		return err
	})
	s.queued(err, len(told.msgs))
	return out, err
}

// ResendActivation sends an invited account a new activation message; the
// secrets sent before stop working.
func (s *Service) ResendActivation(ctx context.Context, actor usher.Actor, tenant usher.Tenant, accountID string) ([]usher.Message, error) {
	if err := actor.Require(usher.AdminUser); err != nil {
		return nil, err
	}
	var msgs []usher.Message
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		a, err := tx.Account(ctx, tenant.ID, accountID)
		if err != nil {
			return err
		}
		if a.State != usher.StateInvited {
			return usher.Conflict("state", "only an invited account can be sent an activation message; this one is %s", a.State)
		}
		msgs, err = s.reissue(ctx, tx, tenant, a, KindActivation)
		if err != nil {
			return err
		}
		if len(msgs) == 0 {
			return usher.Invalid("channel", "the account has no address on a channel the tenant has enabled")
		}
		return audit(ctx, tx, tenant.ID, actor, "account.activation_sent", "account", a.ID, nil)
	})
	s.queued(err, len(msgs))
	return msgs, err
}

// reissue revokes an account's secrets and sends new ones; an invited
// account's invitation then runs until the new secrets expire.
func (s *Service) reissue(ctx context.Context, tx *store.Tx, tenant usher.Tenant, a usher.Account, kind string) ([]usher.Message, error) {
	if err := tx.RevokeActivations(ctx, tenant.ID, a.ID); err != nil {
		return nil, err
	}
	person, err := tx.Person(ctx, tenant.ID, a.PersonID)
	if err != nil {
		return nil, err
	}
	exp := tx.Now().Add(activationTTL(tenant))
	if a.State == usher.StateInvited {
		old := a
		a.InviteExpiresAt = &exp
		if err := tx.UpdateAccount(ctx, tenant.ID, &old, &a); err != nil {
			return nil, err
		}
	}
	return s.sendSecrets(ctx, tx, tenant, person, a, kind, exp)
}

// RequestActivation is the public "send me a new link": when identifier
// belongs to an invited account, a new activation goes out. It answers the
// same whether or not it did, so it tells nobody whether an account exists.
func (s *Service) RequestActivation(ctx context.Context, tenant usher.Tenant, identifier, source string) error {
	a, err := s.st.Read().AccountByLogin(ctx, tenant.ID, usher.NormalizeLogin(identifier))
	if err != nil || a.State != usher.StateInvited {
		return nil
	}
	// At most one request per account a minute, so the form cannot flood a person's inbox.
	if a.InviteExpiresAt != nil && a.InviteExpiresAt.After(s.now().Add(activationTTL(tenant)-time.Minute)) {
		return nil
	}
	n := 0
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		cur, err := tx.Account(ctx, tenant.ID, a.ID)
		if err != nil || cur.State != usher.StateInvited {
			return err
		}
		msgs, err := s.reissue(ctx, tx, tenant, cur, KindActivation)
		if err != nil {
			return err
		}
		n = len(msgs)
		return audit(ctx, tx, tenant.ID, usher.Actor{Kind: usher.ActorAccount, ID: a.ID, Source: source}, "account.activation_requested", "account", a.ID, nil)
	})
	s.queued(err, n)
	return err
}

// RevokeInvitation makes an invited account's activation secrets unusable;
// the account stays invited, with an expired invitation, until resent.
func (s *Service) RevokeInvitation(ctx context.Context, actor usher.Actor, tenant usher.Tenant, accountID string) (usher.Account, error) {
	if err := actor.Require(usher.AdminUser); err != nil {
		return usher.Account{}, err
	}
	var out usher.Account
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		a, err := tx.Account(ctx, tenant.ID, accountID)
		if err != nil {
			return err
		}
		if a.State != usher.StateInvited {
			return usher.Conflict("state", "only an invited account has an invitation to revoke; this one is %s", a.State)
		}
		if err := tx.RevokeActivations(ctx, tenant.ID, a.ID); err != nil {
			return err
		}
		old := a
		a.InviteExpiresAt = nil
		if err := tx.UpdateAccount(ctx, tenant.ID, &old, &a); err != nil {
			return err
		}
		a.Invitation = usher.InvitationExpired
		out = a
		return audit(ctx, tx, tenant.ID, actor, "account.invitation_revoked", "account", a.ID, nil)
	})
	return out, err
}

// SetOneTimePassword lets an administrator give a person without email a
// one-time password (seed 003). Empty otp generates one. It works once,
// expires, and must be replaced by the person's own password when used; it
// is returned to the administrator once and never sent in a message.
func (s *Service) SetOneTimePassword(ctx context.Context, actor usher.Actor, tenant usher.Tenant, accountID, otp string) (string, error) {
	if err := actor.Require(usher.AdminUser); err != nil {
		return "", err
	}
	if otp == "" {
		otp = readableSecret(generatedOTLen)
	} else if err := CheckOneTimePassword(otp); err != nil {
		return "", err
	}
	a, err := s.st.Read().Account(ctx, tenant.ID, accountID)
	if err != nil {
		return "", err
	}
	if a.AuthSystem != usher.AuthPassword {
		return "", usher.Conflict("auth_system", "the account signs in with its SSO connection, not a password")
	}
	if a.State != usher.StateInvited && a.State != usher.StateActive {
		return "", usher.Conflict("state", "the account is %s", a.State)
	}
	hash, err := password.Hash(ctx, otp)
	if err != nil {
		return "", err
	}
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		cur, err := tx.Account(ctx, tenant.ID, a.ID)
		if err != nil {
			return err
		}
		if err := tx.RevokeActivations(ctx, tenant.ID, cur.ID); err != nil {
			return err
		}
		exp := tx.Now().Add(OneTimeTTL)
		if err := tx.InsertActivation(ctx, tenant.ID, &store.Activation{AccountID: cur.ID, SecretHash: hash, Kind: "otp", ExpiresAt: exp}); err != nil {
			return err
		}
		if cur.State == usher.StateInvited {
			old := cur
			cur.InviteExpiresAt = &exp
			if err := tx.UpdateAccount(ctx, tenant.ID, &old, &cur); err != nil {
				return err
			}
		}
		return audit(ctx, tx, tenant.ID, actor, "account.one_time_password_set", "account", cur.ID, nil)
	})
	if err != nil {
		return "", err
	}
	return otp, nil
}

// CheckOneTimePassword is SetOneTimePassword's rule for a chosen one-time
// password, for a dry run that has no account yet.
func CheckOneTimePassword(otp string) error {
	if len([]rune(otp)) < minOneTimeLen || len(otp) > password.MaxLength {
		return usher.Invalid("one_time_password", "must be %d to %d characters long", minOneTimeLen, password.MaxLength)
	}
	if strings.ContainsFunc(otp, unicode.IsControl) {
		// Nobody could type it into the password field.
		return usher.Invalid("one_time_password", "must not hold a line break or another control character")
	}
	return nil
}

// StartReset sends an active password account a link to choose a new
// password. An administrator starts it; only the person chooses.
func (s *Service) StartReset(ctx context.Context, actor usher.Actor, tenant usher.Tenant, accountID string) ([]usher.Message, error) {
	if err := actor.Require(usher.AdminUser); err != nil {
		return nil, err
	}
	var msgs []usher.Message
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		a, err := tx.Account(ctx, tenant.ID, accountID)
		if err != nil {
			return err
		}
		if a.State != usher.StateActive || a.AuthSystem != usher.AuthPassword {
			return usher.Conflict("state", "a password reset is for active accounts that sign in with a password")
		}
		if c, err := s.enforced(ctx, tx, tenant, a.Email); err != nil {
			return err
		} else if c != nil {
			return usher.Conflict("state", "the account's email belongs to %s, which is enforced: it signs in there, never with a password", c.Name)
		}
		if msgs, err = s.reissue(ctx, tx, tenant, a, KindPasswordReset); err != nil {
			return err
		}
		if len(msgs) == 0 {
			return usher.Invalid("channel", "the account has no address on a channel the tenant has enabled; set a one-time password instead")
		}
		return audit(ctx, tx, tenant.ID, actor, "account.password_reset_started", "account", a.ID, nil)
	})
	s.queued(err, len(msgs))
	return msgs, err
}

func activationTTL(t usher.Tenant) time.Duration {
	if h := t.Settings.ActivationTTLHours; h > 0 {
		return time.Duration(h) * time.Hour
	}
	return 7 * 24 * time.Hour
}

// codeHash binds a short code to its account, so equal codes of two
// accounts differ in storage.
func codeHash(account, code string) string {
	sum := sha256.Sum256([]byte(account + ":" + code))
	return hex.EncodeToString(sum[:])
}

func numericCode(digits int) string {
	var b strings.Builder
	for range digits {
		n, err := rand.Int(rand.Reader, big.NewInt(10))
		if err != nil {
			panic(err)
		}
		b.WriteByte(byte('0' + n.Int64()))
	}
	return b.String()
}

// readableSecret avoids characters people confuse (0/o, 1/l/i).
func readableSecret(n int) string {
	const alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
	var b strings.Builder
	for range n {
		k, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			panic(err)
		}
		b.WriteByte(alphabet[k.Int64()])
	}
	return b.String()
}

// dummyHash is verified against when there is no account, so a wrong
// identifier costs the same time as a wrong code.
var dummyHash = sync.OnceValue(func() string {
	h, _ := password.Hash(context.Background(), "not a real password")
	return h
})

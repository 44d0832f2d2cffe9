// Package sso signs people in through a tenant's corporate identity
// provider: OpenID Connect and SAML 2.0 connections. It sends the browser to
// the identity provider, checks what comes back with a well-kept library,
// and turns the claims or attributes into a provision.SSOUser by the
// connection's mapping. What the sign-in does to the directory (a tie, an
// activation, a just-in-time account) is provision's; the session is
// signin's. sso keeps only the sign-ins under way and the SAML assertions
// already accepted, in the database, so that replicas share them.
package sso

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/discovery"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/secret"
	"github.com/usherhq/usher/store"
)

// Purposes of a sign-in through a connection.
const (
	PurposeSignIn   = "signin"   // sign in (and, with JIT, create)
	PurposeRegister = "register" // register through the connection (seed 000)
	PurposeTest     = "test"     // an administrator's "test this connection": show the claims, create nothing
)

// requestTTL bounds how long a person may spend at the identity provider.
const requestTTL = 15 * time.Minute

// Service runs sign-ins through tenants' connections.
type Service struct {
	st     *store.Store
	box    *secret.Box
	now    func() time.Time
	client *http.Client
	base   func(usher.Tenant) string
	oidc   *discovery.Cache
	saml   *metadataCache
}

// New returns a Service. base is a tenant's public address (the callback
// and metadata URLs hang under it), client fetches issuers' discovery
// documents, keys and SAML metadata, and box seals SAML keys.
func New(st *store.Store, box *secret.Box, base func(usher.Tenant) string, now func() time.Time, client *http.Client) *Service {
	if now == nil {
		now = time.Now
	}
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	return &Service{st: st, box: box, now: now, client: client, base: base, oidc: discovery.New(client, now), saml: newMetadataCache()}
}

// Begin says where the browser goes to sign in through c.
type Begin struct {
	Purpose   string
	Next      string // where the person was going, a path of this server
	LoginHint string // the identifier the person typed
}

// Start is where the browser goes next, and the state its cookie keeps.
type Start struct {
	// State binds the sign-in to the browser: kept in a cookie, compared
	// when the identity provider sends the person back.
	State string
	// URL is a redirect; Form, for SAML's HTTP-POST binding, is a form the
	// page submits at once.
	URL  string
	Form *Form
}

// Form is an auto-submitted POST to the identity provider.
type Form struct {
	Action string
	Fields map[string]string
}

// Answer is what the identity provider said of the person, mapped.
type Answer struct {
	// Connection is the connection, its mapping filled from the preset.
	Connection usher.Connection
	Purpose    string
	Next       string
	User       provision.SSOUser
	// Claims are the claims or attributes as received, for the test page.
	Claims map[string][]string
	got    received
}

// Errors a person may meet on the way back.
var (
	ErrExpired  = &usher.Error{Code: usher.CodeInvalid, Field: "state", Message: "this sign-in took too long or was already used; start again"}
	ErrBrowser  = &usher.Error{Code: usher.CodeInvalid, Field: "state", Message: "this sign-in was started in another browser; start again here"}
	ErrDisabled = &usher.Error{Code: usher.CodeNotFound, Field: "connection_id", Message: "connection not found"}
)

// ProviderError is the identity provider's refusal or an answer that does
// not pass the checks; Detail says which check, for the log and the test
// page, never shown to people signing in.
type ProviderError struct {
	Detail string
	Err    error
}

func (e *ProviderError) Error() string {
	if e.Err != nil {
		return e.Detail + ": " + e.Err.Error()
	}
	return e.Detail
}

func (e *ProviderError) Unwrap() error { return e.Err }

func refused(detail string, err error) error { return &ProviderError{Detail: detail, Err: err} }

// Connection returns an active connection of tenant.
func (s *Service) Connection(ctx context.Context, tenant usher.Tenant, id string) (usher.Connection, error) {
	c, err := s.st.Read().Connection(ctx, tenant.ID, id)
	if errors.Is(err, usher.ErrNotFound) || (err == nil && c.DeactivatedAt != nil) {
		return c, ErrDisabled
	}
	return c, err
}

// Begin starts a sign-in through c: a request kept under the hash of a new
// state, and where the browser goes.
func (s *Service) Begin(ctx context.Context, tenant usher.Tenant, c usher.Connection, b Begin) (Start, error) {
	if c.DeactivatedAt != nil || c.TenantID != tenant.ID {
		return Start{}, ErrDisabled
	}
	switch b.Purpose {
	case PurposeSignIn, PurposeRegister, PurposeTest:
	default:
		return Start{}, usher.Invalid("purpose", "unknown purpose %q", b.Purpose)
	}
	state, hash := secret.New()
	q := store.SSORequest{ID: hash, TenantID: tenant.ID, ConnectionID: c.ID, Purpose: b.Purpose, Next: safeNext(b.Next), ExpiresAt: s.now().Add(requestTTL)}
	var start Start
	var err error
	switch c.Protocol {
	case "oidc":
		start, err = s.beginOIDC(ctx, tenant, c, &q, state, b.LoginHint)
	case "saml":
		start, err = s.beginSAML(ctx, tenant, c, &q, state, b.LoginHint)
	default:
		err = fmt.Errorf("connection %s: unknown protocol %q", c.ID, c.Protocol)
	}
	if err != nil {
		return Start{}, err
	}
	if err := s.st.Write(ctx, func(tx *store.Tx) error { return tx.InsertSSORequest(ctx, &q) }); err != nil {
		return Start{}, err
	}
	start.State = state
	return start, nil
}

// use takes the request a state stands for, once: the browser's cookie
// must hold the same state, and the request must be the connection's, not
// expired, and (answered) already answered by the identity provider.
func (s *Service) use(ctx context.Context, tenant usher.Tenant, connID, state, cookie string, answered bool) (store.SSORequest, error) {
	if state == "" || len(state) > 100 {
		return store.SSORequest{}, ErrExpired
	}
	if subtle.ConstantTimeCompare([]byte(state), []byte(cookie)) != 1 {
		return store.SSORequest{}, ErrBrowser
	}
	var q store.SSORequest
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		var err error
		q, err = tx.SSORequest(ctx, tenant.ID, secret.Hash(state))
		if errors.Is(err, usher.ErrNotFound) {
			return ErrExpired
		} else if err != nil {
			return err
		}
		if q.ConnectionID != connID || q.UsedAt != nil || !q.ExpiresAt.After(s.now()) || (answered && q.AnsweredAt == nil) {
			return ErrExpired
		}
		return tx.UseSSORequest(ctx, q.ID)
	})
	if errors.Is(err, usher.ErrConflict) {
		return q, ErrExpired
	}
	return q, err
}

// answer builds the Answer from what the identity provider said.
func (s *Service) answer(c usher.Connection, q store.SSORequest, got received) (Answer, error) {
	m := effective(c)
	named := m.named()
	named.Preset, named.GroupRules = c.Mapping.Preset, c.Mapping.GroupRules
	c.Mapping = named
	u, err := m.user(got)
	if err != nil {
		return Answer{}, err
	}
	return Answer{Connection: c, Purpose: q.Purpose, Next: q.Next, User: u, Claims: got.Claims, got: got}, nil
}

// Hold keeps an answer for the browser that has it, while the person
// completes what the identity provider did not send (a department they may
// choose); Resume picks it up. It returns the new state for the cookie.
func (s *Service) Hold(ctx context.Context, tenant usher.Tenant, a Answer) (string, error) {
	state, hash := secret.New()
	res, err := a.got.encode()
	if err != nil {
		return "", err
	}
	q := store.SSORequest{ID: hash, TenantID: tenant.ID, ConnectionID: a.Connection.ID, Purpose: a.Purpose, Next: a.Next, ExpiresAt: s.now().Add(requestTTL)}
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		if err := tx.InsertSSORequest(ctx, &q); err != nil {
			return err
		}
		return tx.AnswerSSORequest(ctx, q.ID, res)
	})
	return state, err
}

// Resume picks up, once, an answer kept for the browser whose cookie holds
// state (Hold, or a SAML answer posted to the ACS).
func (s *Service) Resume(ctx context.Context, tenant usher.Tenant, connID, state, cookie string) (Answer, error) {
	c, err := s.Connection(ctx, tenant, connID)
	if err != nil {
		return Answer{}, err
	}
	q, err := s.use(ctx, tenant, c.ID, state, cookie, true)
	if err != nil {
		return Answer{}, err
	}
	var got received
	if err := json.Unmarshal([]byte(q.Result), &got); err != nil {
		return Answer{}, fmt.Errorf("sign-in %s: its answer cannot be read: %w", q.ID, err)
	}
	return s.answer(c, q, got)
}

// received is what an identity provider said: its subject (OIDC sub, SAML
// NameID) and its claims or attributes, all as lists of strings.
type received struct {
	Subject string              `json:"subject"`
	Claims  map[string][]string `json:"claims"`
}

func (g received) encode() (string, error) {
	b, err := json.Marshal(g)
	return string(b), err
}

// safeNext keeps a path of this server only: never another site.
func safeNext(next string) string {
	if next == "" || len(next) > 2000 || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") ||
		strings.ContainsAny(next, "\r\n\t") {
		return ""
	}
	return next
}

// CallbackURL is where an OpenID Connect provider sends people back: the
// redirect URI an administrator registers there.
func (s *Service) CallbackURL(tenant usher.Tenant, c usher.Connection) string {
	return s.connURL(tenant, c.ID, "callback")
}

// connURL is the address of one of a connection's pages.
func (s *Service) connURL(tenant usher.Tenant, connID, page string) string {
	return strings.TrimSuffix(s.base(tenant), "/") + "/sso/" + url.PathEscape(connID) + "/" + page
}

// ACSURL is SAML's Assertion Consumer Service of the connection.
func (s *Service) ACSURL(tenant usher.Tenant, c usher.Connection) string {
	return s.connURL(tenant, c.ID, "acs")
}

// MetadataURL is the connection's SAML service provider metadata, and its
// entity ID.
func (s *Service) MetadataURL(tenant usher.Tenant, c usher.Connection) string {
	return s.connURL(tenant, c.ID, "metadata")
}

package linked_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/catalog"
	"github.com/usherhq/usher/internal/testidp"
	"github.com/usherhq/usher/linked"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/secret"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/store/storetest"
)

var (
	operator  = usher.Actor{Kind: usher.ActorOperator, ID: "op", Role: usher.PrincipalOperator}
	tenantAdm = usher.Actor{Kind: usher.ActorToken, ID: "ta", Role: usher.AdminTenant}
	userAdm   = usher.Actor{Kind: usher.ActorToken, ID: "ua", Role: usher.AdminUser}
)

// sent is a message linked asked provision to write.
type sent struct {
	Account, Kind, System, Link string
	Exchange                    bool // the message asks for Exchange credentials
	Queued                      bool // queued in a transaction
}

// outbox records the messages linked asks for, as provision would queue them.
type outbox struct {
	mu   sync.Mutex
	msgs []*sent
}

func (o *outbox) render(_ context.Context, _ usher.Tenant, a usher.Account, kind, system string, exchange bool, link string) (linked.Outbox, error) {
	m := &sent{Account: a.ID, Kind: kind, System: system, Link: link, Exchange: exchange}
	o.mu.Lock()
	o.msgs = append(o.msgs, m)
	o.mu.Unlock()
	return queue{m}, nil
}

func (o *outbox) queued(kind string) []sent {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []sent
	for _, m := range o.msgs {
		if m.Kind == kind && m.Queued {
			out = append(out, *m)
		}
	}
	return out
}

type queue struct{ m *sent }

func (q queue) Queue(_ context.Context, tx *store.Tx, _ string) ([]usher.Message, error) {
	if tx == nil {
		return nil, errors.New("queued outside a transaction")
	}
	q.m.Queued = true
	return nil, nil
}

// counting counts the requests to the provider's token endpoint.
type counting struct {
	n    atomic.Int64
	base http.RoundTripper
	// after, when set, runs when a token call has been answered.
	after func()
}

func (c *counting) RoundTrip(r *http.Request) (*http.Response, error) {
	if !strings.HasSuffix(r.URL.Path, "/token") {
		return c.base.RoundTrip(r)
	}
	c.n.Add(1)
	res, err := c.base.RoundTrip(r)
	if c.after != nil {
		c.after()
	}
	return res, err
}

// syncBuffer is a log that tests read while workers write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

type env struct {
	t      *testing.T
	ctx    context.Context
	st     *store.Store
	clock  *storetest.Clock
	prov   *provision.Service
	svc    *linked.Service
	box    *secret.Box
	key    []byte // box's
	out    *outbox
	tokens *counting
	logs   *syncBuffer
	dex    *testidp.Dex
	tenant usher.Tenant
	system usher.ExternalSystem
}

type opener func(testing.TB, func() time.Time) *store.Store

const (
	clientID     = "usher-calendar"
	clientSecret = "calendar-client-secret"
)

var dexUsers = []testidp.DexUser{
	{Email: "ann@example.com", Username: "Ann", Password: "ann-password"},
	{Email: "bob@example.com", Username: "Bob", Password: "bob-password"},
}

func base(t usher.Tenant) string { return "http://127.0.0.1:1/t/" + t.Slug }

// newEnv is an env whose Calendar system is at a real Dex.
func newEnv(t *testing.T, open opener) *env {
	e := newBareEnv(t, open)
	e.dex = testidp.StartDex(t, testidp.DexConfig{
		Clients: []testidp.DexClient{{ID: clientID, Secret: clientSecret, RedirectURIs: []string{e.svc.CallbackURL(e.tenant)}}},
		Users:   dexUsers,
	})
	var err error
	e.system, err = e.svc.SaveExternalSystem(e.ctx, tenantAdm, e.tenant, "", linked.ExternalSystemInput{ExternalSystem: usher.ExternalSystem{
		Name: "Calendar", Kind: usher.ExternalOAuth2, Issuer: e.dex.Issuer, ClientID: clientID, ClientSecret: clientSecret,
		Scopes: []string{"openid", "email", "profile", "offline_access"}, ReminderDays: 3}})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// newBareEnv is an env with its tenant and no external system.
func newBareEnv(t *testing.T, open opener) *env {
	c := storetest.NewClock(time.Now().UTC().Truncate(time.Second))
	st := open(t, c.Now)
	key := make([]byte, secret.KeySize)
	rand.Read(key)
	box, err := secret.NewBox(key)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: context.Background(), st: st, clock: c, prov: provision.New(st, c.Now, storetest.Links{}), box: box, key: key,
		out: &outbox{}, tokens: &counting{base: http.DefaultTransport}, logs: &syncBuffer{}}
	e.svc = linked.New(linked.Deps{Store: st, Box: box, Now: c.Now, Client: &http.Client{Transport: e.tokens, Timeout: 10 * time.Second},
		Base: base, Messages: e.out.render, Log: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if e.tenant, err = e.prov.CreateTenant(e.ctx, operator, provision.TenantInput{Slug: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	seats, name := 100, "Standard"
	plan, err := catalog.New(e.st, e.prov).CreatePlan(e.ctx, operator, e.tenant, catalog.PlanInput{Key: "std", Name: &name, Seats: &seats})
	if err != nil {
		t.Fatal(err)
	}
	settings := e.tenant.Settings
	settings.DefaultPlanID = plan.ID
	if e.tenant, err = e.prov.UpdateTenant(e.ctx, tenantAdm, e.tenant.ID, provision.TenantUpdate{Settings: &settings}); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) account(email string) usher.Account {
	e.t.Helper()
	c, err := e.prov.CreateAccount(e.ctx, userAdm, e.tenant, provision.AccountInput{Route: provision.RouteNewUser,
		Person: &provision.PersonInput{FirstName: strings.Split(email, "@")[0], LastName: "Tester", Email: email}})
	if err != nil {
		e.t.Fatal(err)
	}
	return c.Account
}

// authorize runs the person's authorization at Dex, signing in there as
// email, and returns Callback's outcome.
func (e *env) authorize(l usher.Link, email, password string) (linked.Page, error) {
	e.t.Helper()
	start, err := e.svc.Begin(e.ctx, e.tenant, l.ID, l.AccountID)
	if err != nil {
		e.t.Fatalf("begin: %v", err)
	}
	back, err := e.dex.LoginAt(e.ctx, &http.Client{}, start.URL, email, password)
	if err != nil {
		e.t.Fatalf("login at Dex: %v", err)
	}
	if want := e.svc.CallbackURL(e.tenant); !strings.HasPrefix(back.String(), want+"?") {
		e.t.Fatalf("Dex sent the person back to %s, not %s", back, want)
	}
	return e.svc.Callback(e.ctx, e.tenant, back.Query(), start.State)
}

func (e *env) record(id string) store.LinkRecord {
	e.t.Helper()
	r, err := e.st.Read().Link(e.ctx, e.tenant.ID, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *env) reveal(kept, purpose string) string {
	e.t.Helper()
	v, err := e.box.Reveal(kept, purpose, "test")
	if err != nil {
		e.t.Fatal(err)
	}
	return v
}

func (e *env) audited(action, target string) int {
	e.t.Helper()
	evs, _, err := e.st.Read().AuditEvents(e.ctx, e.tenant.ID, store.AuditFilter{TargetID: target, Action: action}, store.ListOptions{Limit: 500})
	if err != nil {
		e.t.Fatal(err)
	}
	return len(evs)
}

// userinfo asks Dex who an access token is.
func (e *env) userinfo(token string) (int, string) {
	req, _ := http.NewRequestWithContext(e.ctx, http.MethodGet, e.dex.Issuer+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var c struct {
		Email string `json:"email"`
	}
	body, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(body, &c)
	return resp.StatusCode, c.Email
}

// refreshOutside uses a refresh token at Dex as another program would:
// Dex rotates it, so the one usher holds is no longer good.
func (e *env) refreshOutside(rt string) string {
	e.t.Helper()
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {clientID}, "client_secret": {clientSecret}}
	resp, err := http.PostForm(e.dex.Issuer+"/token", form)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		RefreshToken string `json:"refresh_token"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&tok) != nil {
		e.t.Fatalf("refresh at Dex: %s", resp.Status)
	}
	return tok.RefreshToken
}

func each(t *testing.T, fn func(t *testing.T, open opener)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, storetest.OpenSQLite) })
	t.Run("postgres", func(t *testing.T) { fn(t, storetest.OpenPostgres) })
}

// TestLinkLifecycle: an administrator links a person's account, the person
// authorizes at a real OAuth server (Dex), the product gets fresh access
// tokens, the worker refreshes ahead of expiry, and when the provider
// refuses the refresh token the person is asked again, and reminded.
func TestLinkLifecycle(t *testing.T) {
	each(t, func(t *testing.T, open opener) {
		e := newEnv(t, open)
		ann := e.account("ann@example.com")

		l, err := e.svc.Link(e.ctx, userAdm, e.tenant, linked.LinkInput{AccountID: ann.ID, ExternalSystemID: e.system.ID, Login: "Ann@Example.com"})
		if err != nil {
			t.Fatal(err)
		}
		if l.State != usher.LinkPending {
			t.Fatalf("a new link is %s", l.State)
		}
		msgs := e.out.queued(linked.KindAuthorize)
		if len(msgs) != 1 || msgs[0].Account != ann.ID || msgs[0].System != "Calendar" || msgs[0].Link != base(e.tenant)+"/links/"+l.ID {
			t.Fatalf("authorize messages: %+v", msgs)
		}
		if e.audited("link.created", l.ID) != 1 {
			t.Fatal("the link was not audited")
		}
		// One live link per account and system.
		_, err = e.svc.Link(e.ctx, userAdm, e.tenant, linked.LinkInput{AccountID: ann.ID, ExternalSystemID: e.system.ID, Login: "ann@example.com"})
		storetest.WantCode(t, err, usher.CodeConflict, "")
		// Only the link's own person may authorize it.
		bob := e.account("bob@example.com")
		_, err = e.svc.Begin(e.ctx, e.tenant, l.ID, bob.ID)
		storetest.WantCode(t, err, usher.CodeNotFound, "")

		page, err := e.authorize(l, "ann@example.com", "ann-password")
		if err != nil {
			t.Fatalf("callback: %v", err)
		}
		if page.Link.State != usher.LinkAuthorized || page.Link.Subject != testidp.DexSubject("ann@example.com") {
			t.Fatalf("after the callback: %+v", page.Link)
		}
		if e.audited("link.authorized", l.ID) != 1 {
			t.Fatal("the authorization was not audited")
		}
		rec := e.record(l.ID)
		access := e.reveal(rec.AccessToken, "link-access-token/"+e.tenant.ID+"/"+l.ID)
		refresh := e.reveal(rec.RefreshToken, "link-refresh-token/"+e.tenant.ID+"/"+l.ID)
		if !secret.Sealed(rec.AccessToken) || !secret.Sealed(rec.RefreshToken) || access == "" || refresh == "" ||
			strings.Contains(rec.AccessToken, access) || strings.Contains(rec.RefreshToken, refresh) {
			t.Fatal("the tokens are not kept sealed")
		}

		// The product's token: Dex's userinfo accepts it.
		before := e.tokens.n.Load()
		tok, exp, err := e.svc.Token(e.ctx, e.tenant, l.ID)
		if err != nil {
			t.Fatal(err)
		}
		if tok != access || e.tokens.n.Load() != before || !exp.After(e.clock.Now().Add(time.Hour)) {
			t.Fatal("a token far from expiry was refreshed, or another was given")
		}
		if code, email := e.userinfo(tok); code != http.StatusOK || email != "ann@example.com" {
			t.Fatalf("Dex's userinfo: %d %q", code, email)
		}

		// Close to expiry, Token refreshes first, and keeps the rotated
		// refresh token.
		e.clock.Advance(exp.Sub(e.clock.Now()) - 2*time.Minute)
		tok2, exp2, err := e.svc.Token(e.ctx, e.tenant, l.ID)
		if err != nil {
			t.Fatal(err)
		}
		if tok2 == tok || e.tokens.n.Load() != before+1 || !exp2.After(exp) {
			t.Fatalf("no refresh near expiry (token calls %d)", e.tokens.n.Load()-before)
		}
		if code, _ := e.userinfo(tok2); code != http.StatusOK {
			t.Fatalf("Dex's userinfo refused the refreshed token: %d", code)
		}
		rec = e.record(l.ID)
		refresh2 := e.reveal(rec.RefreshToken, "link-refresh-token/"+e.tenant.ID+"/"+l.ID)
		if refresh2 == refresh {
			t.Fatal("Dex rotated the refresh token and usher kept the old one")
		}

		// The worker refreshes ahead of expiry.
		w := linked.NewWorker(e.svc, linked.WorkerOptions{})
		if n, err := w.RunOnce(e.ctx); err != nil || n != 0 {
			t.Fatalf("nothing is due, the worker claimed %d (%v)", n, err)
		}
		e.clock.Advance(exp2.Sub(e.clock.Now()) - 4*time.Minute)
		before = e.tokens.n.Load()
		if n, err := w.RunOnce(e.ctx); err != nil || n != 1 || e.tokens.n.Load() != before+1 {
			t.Fatalf("worker: claimed %d, %d token calls, %v", n, e.tokens.n.Load()-before, err)
		}
		rec = e.record(l.ID)
		if rec.State != usher.LinkAuthorized || rec.LeaseOwner != "" || !rec.NextAt.After(e.clock.Now().Add(time.Hour)) {
			t.Fatalf("after the worker's refresh: %+v", rec)
		}
		access3 := e.reveal(rec.AccessToken, "link-access-token/"+e.tenant.ID+"/"+l.ID)
		refresh3 := e.reveal(rec.RefreshToken, "link-refresh-token/"+e.tenant.ID+"/"+l.ID)

		// A worker stopped (its replica shutting down) just as Dex answered
		// its refresh still keeps the rotated refresh token: the old one is
		// dead at Dex.
		e.clock.Advance(rec.NextAt.Sub(e.clock.Now()) + time.Second)
		stopping, stop := context.WithCancel(e.ctx)
		e.tokens.after = stop
		w.RunOnce(stopping)
		e.tokens.after = nil
		stop()
		rec = e.record(l.ID)
		refresh4 := e.reveal(rec.RefreshToken, "link-refresh-token/"+e.tenant.ID+"/"+l.ID)
		if access4 := e.reveal(rec.AccessToken, "link-access-token/"+e.tenant.ID+"/"+l.ID); refresh4 == refresh3 || access4 == access3 || rec.State != usher.LinkAuthorized {
			t.Fatalf("the refresh of a stopped worker was lost: %+v", rec.Link)
		}

		// Another program uses the refresh token: Dex rotates it and
		// refuses the one usher holds. The person is asked again.
		e.refreshOutside(refresh4)
		e.clock.Advance(rec.NextAt.Sub(e.clock.Now()) + time.Second)
		if n, err := w.RunOnce(e.ctx); err != nil || n != 1 {
			t.Fatalf("worker: claimed %d, %v", n, err)
		}
		rec = e.record(l.ID)
		if rec.State != usher.LinkReauthorize || rec.AccessToken != "" || rec.RefreshToken != "" || rec.LastError == "" {
			t.Fatalf("after the refused refresh: %+v", rec.Link)
		}
		re := e.out.queued(linked.KindReauthorize)
		if len(re) != 1 || re[0].Account != ann.ID || e.audited("link.reauthorize", l.ID) != 1 {
			t.Fatalf("reauthorize messages %+v, audited %d", re, e.audited("link.reauthorize", l.ID))
		}
		_, _, err = e.svc.Token(e.ctx, e.tenant, l.ID)
		storetest.WantCode(t, err, usher.CodeConflict, "state")

		// The reminder, once per period.
		if n, _ := w.RunOnce(e.ctx); n != 0 {
			t.Fatal("reminded before the reminder days")
		}
		e.clock.Advance(3*24*time.Hour + time.Minute)
		if n, err := w.RunOnce(e.ctx); err != nil || n != 1 || len(e.out.queued(linked.KindReauthorize)) != 2 || e.audited("link.reminded", l.ID) != 1 {
			t.Fatalf("reminder: claimed %d, %v", n, err)
		}
		if n, _ := w.RunOnce(e.ctx); n != 0 {
			t.Fatal("reminded twice in one period")
		}

		// The person authorizes again (the clock back at Dex's, which
		// the ID token's expiry is checked against).
		e.clock.Advance(time.Now().Sub(e.clock.Now()))
		if page, err := e.authorize(l, "ann@example.com", "ann-password"); err != nil || page.Link.State != usher.LinkAuthorized {
			t.Fatalf("re-authorization: %v", err)
		}
		// The person revokes: tokens erased.
		if _, err := e.svc.Revoke(e.ctx, usher.Actor{Kind: usher.ActorAccount, ID: bob.ID}, e.tenant, bob.ID, l.ID); !errors.Is(err, usher.ErrNotFound) {
			t.Fatalf("another person revoked the link: %v", err)
		}
		if rl, err := e.svc.Revoke(e.ctx, usher.Actor{Kind: usher.ActorAccount, ID: ann.ID}, e.tenant, ann.ID, l.ID); err != nil || rl.State != usher.LinkRevoked {
			t.Fatalf("revoke: %v", err)
		}
		if rec := e.record(l.ID); rec.AccessToken != "" || rec.RefreshToken != "" || e.audited("link.revoked", l.ID) != 1 {
			t.Fatal("revoked, but the tokens are kept")
		}
		// A revoked link no longer counts: the account can be linked again.
		if _, err := e.svc.Link(e.ctx, userAdm, e.tenant, linked.LinkInput{AccountID: ann.ID, ExternalSystemID: e.system.ID, Login: "ann@example.com"}); err != nil {
			t.Fatal(err)
		}

		// Tokens never in logs.
		logs := e.logs.String()
		for _, secretValue := range []string{access, refresh, tok2, refresh2, access3, refresh3, clientSecret} {
			if strings.Contains(logs, secretValue) {
				t.Fatal("a token is in the log")
			}
		}
	})
}

// TestWrongAccount: the person signs in to the provider as someone else
// than the link's login; nothing is stored and the refusal says who was
// expected.
func TestWrongAccount(t *testing.T) {
	each(t, func(t *testing.T, open opener) {
		e := newEnv(t, open)
		ann := e.account("ann@example.com")
		l, err := e.svc.Link(e.ctx, userAdm, e.tenant, linked.LinkInput{AccountID: ann.ID, ExternalSystemID: e.system.ID, Login: "ann@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.authorize(l, "bob@example.com", "bob-password")
		var wrong *linked.WrongAccount
		if !errors.As(err, &wrong) || wrong.Expected != "ann@example.com" || wrong.Got != "bob@example.com" {
			t.Fatalf("got %v, want the wrong account refused", err)
		}
		if rec := e.record(l.ID); rec.State != usher.LinkPending || rec.AccessToken != "" || rec.RefreshToken != "" {
			t.Fatalf("the wrong account's tokens were kept: %+v", rec.Link)
		}
		// The state is used once.
		start, err := e.svc.Begin(e.ctx, e.tenant, l.ID, ann.ID)
		if err != nil {
			t.Fatal(err)
		}
		back, err := e.dex.LoginAt(e.ctx, &http.Client{}, start.URL, "ann@example.com", "ann-password")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Callback(e.ctx, e.tenant, back.Query(), "another-browser"); !errors.Is(err, linked.ErrBrowser) {
			t.Fatalf("another browser's callback: %v", err)
		}
		if _, err := e.svc.Callback(e.ctx, e.tenant, back.Query(), start.State); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Callback(e.ctx, e.tenant, back.Query(), start.State); !errors.Is(err, linked.ErrExpired) {
			t.Fatalf("a state used twice: %v", err)
		}
	})
}

// TestWorkersLease: two workers at once refresh each due link exactly once.
func TestWorkersLease(t *testing.T) {
	each(t, func(t *testing.T, open opener) {
		e := newEnv(t, open)
		var links []usher.Link
		for _, u := range dexUsers {
			a := e.account(u.Email)
			l, err := e.svc.Link(e.ctx, userAdm, e.tenant, linked.LinkInput{AccountID: a.ID, ExternalSystemID: e.system.ID, Login: u.Email})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.authorize(l, u.Email, u.Password); err != nil {
				t.Fatal(err)
			}
			links = append(links, l)
		}
		e.clock.Advance(24*time.Hour - 3*time.Minute)
		before := e.tokens.n.Load()
		w1, w2 := linked.NewWorker(e.svc, linked.WorkerOptions{}), linked.NewWorker(e.svc, linked.WorkerOptions{})
		var wg sync.WaitGroup
		var claimed atomic.Int64
		for _, w := range []*linked.Worker{w1, w2, w1, w2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n, err := w.RunOnce(e.ctx)
				if err != nil {
					t.Error(err)
				}
				claimed.Add(int64(n))
			}()
		}
		wg.Wait()
		if claimed.Load() != int64(len(links)) || e.tokens.n.Load()-before != int64(len(links)) {
			t.Fatalf("claimed %d, %d token calls, for %d due links", claimed.Load(), e.tokens.n.Load()-before, len(links))
		}
		for _, l := range links {
			if rec := e.record(l.ID); rec.State != usher.LinkAuthorized || rec.LeaseOwner != "" {
				t.Fatalf("after the refresh: %+v", rec.Link)
			}
		}

		// Products asking for a token near expiry while a worker runs:
		// still one refresh of the link.
		rec := e.record(links[0].ID)
		e.clock.Advance(rec.ExpiresAt.Sub(e.clock.Now()) - time.Minute)
		before = e.tokens.n.Load()
		toks := make([]string, 4)
		for i := range toks {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var err error
				if toks[i], _, err = e.svc.Token(e.ctx, e.tenant, links[0].ID); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := w1.RunOnce(e.ctx); err != nil {
				t.Error(err)
			}
		}()
		wg.Wait()
		// Both links are due; the first is refreshed once whoever does it.
		if n := e.tokens.n.Load() - before; n != 2 {
			t.Fatalf("%d token calls for two due links", n)
		}
		for _, tok := range toks[1:] {
			if tok != toks[0] {
				t.Fatal("products got different tokens from one refresh")
			}
		}
	})
}

// TestDeactivatedSystemRests: the worker asks nobody for the links of a
// system an administrator switched off, and picks them up again when it is
// switched back on.
func TestDeactivatedSystemRests(t *testing.T) {
	each(t, func(t *testing.T, open opener) {
		e := newEnv(t, open)
		u := dexUsers[0]
		l, err := e.svc.Link(e.ctx, userAdm, e.tenant, linked.LinkInput{AccountID: e.account(u.Email).ID, ExternalSystemID: e.system.ID, Login: u.Email})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.authorize(l, u.Email, u.Password); err != nil {
			t.Fatal(err)
		}
		off, on := true, false
		x := e.system
		x.ClientSecret = ""
		if _, err := e.svc.SaveExternalSystem(e.ctx, tenantAdm, e.tenant, x.ID, linked.ExternalSystemInput{ExternalSystem: x, Deactivated: &off}); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(24*time.Hour - 3*time.Minute)
		before := e.tokens.n.Load()
		w := linked.NewWorker(e.svc, linked.WorkerOptions{})
		if _, err := w.RunOnce(e.ctx); err != nil {
			t.Fatal(err)
		}
		if n := e.tokens.n.Load() - before; n != 0 {
			t.Fatalf("%d token requests for a switched-off system", n)
		}
		if rec := e.record(l.ID); rec.State != usher.LinkAuthorized || rec.LeaseOwner != "" {
			t.Fatalf("the resting link: %+v", rec.Link)
		}
		if _, err := e.svc.SaveExternalSystem(e.ctx, tenantAdm, e.tenant, x.ID, linked.ExternalSystemInput{ExternalSystem: x, Deactivated: &on}); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(24 * time.Hour)
		if _, err := w.RunOnce(e.ctx); err != nil {
			t.Fatal(err)
		}
		if n := e.tokens.n.Load() - before; n != 1 {
			t.Fatalf("%d token requests once switched back on, want 1", n)
		}
	})
}

// TestDeactivatedAccountEndsLinks: deactivating a person ends their links
// in the same transaction, erasing what they held; a suspended person's
// link hands out nothing until they are active again.
func TestDeactivatedAccountEndsLinks(t *testing.T) {
	each(t, func(t *testing.T, open opener) {
		e := newEnv(t, open)
		e.prov.OnAccountEnded(e.svc.AccountEnded)
		u := dexUsers[0]
		a := e.account(u.Email)
		l, err := e.svc.Link(e.ctx, userAdm, e.tenant, linked.LinkInput{AccountID: a.ID, ExternalSystemID: e.system.ID, Login: u.Email})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.authorize(l, u.Email, u.Password); err != nil {
			t.Fatal(err)
		}
		suspended, deactivated := usher.StateSuspended, usher.StateDeactivated
		if _, err := e.prov.UpdateAccount(e.ctx, userAdm, e.tenant, a.ID, provision.AccountUpdate{State: &suspended}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.svc.Token(e.ctx, e.tenant, l.ID); usher.ErrorCode(err) != usher.CodeConflict {
			t.Fatalf("a suspended person's link handed out a token: %v", err)
		}
		if rec := e.record(l.ID); rec.State != usher.LinkAuthorized {
			t.Fatalf("suspension ended the link: %s", rec.State)
		}
		if _, err := e.prov.UpdateAccount(e.ctx, userAdm, e.tenant, a.ID, provision.AccountUpdate{State: &deactivated}); err != nil {
			t.Fatal(err)
		}
		rec := e.record(l.ID)
		if rec.State != usher.LinkUnlinked || rec.AccessToken != "" || rec.RefreshToken != "" {
			t.Fatalf("after deactivation: %s, tokens kept: %v", rec.State, rec.AccessToken != "" || rec.RefreshToken != "")
		}
	})
}

package linked_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/linked"
	"github.com/usherhq/usher/store/storetest"
)

// mockOAuth is npm's oauth2-mock-server run by testdata/oauth2-mock-server/
// server.mjs: a real OAuth 2.0 authorization server (discovery, code with
// PKCE, refresh, revocation, signed ID tokens) a test can steer. Dex has no
// revocation endpoint and always grants what was asked; this one does both.
type mockOAuth struct {
	t      *testing.T
	Issuer string
}

// revocation is a request its /revoke endpoint received.
type revocation struct {
	Token    string `json:"token"`
	Hint     string `json:"token_type_hint"`
	ClientID string `json:"client_id"`
}

// startMockOAuth runs the server with node. Without node or the installed
// package the test is skipped, except in CI, where it fails.
func startMockOAuth(t *testing.T) *mockOAuth {
	t.Helper()
	dir := filepath.Join("testdata", "oauth2-mock-server")
	missing := func(why string) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatal(why)
		}
		t.Skip(why)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not installed: the tests against oauth2-mock-server need Node.js 20 or later (apt-get install nodejs npm)")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "oauth2-mock-server", "package.json")); err != nil {
		missing("oauth2-mock-server is not installed: run npm ci in linked/testdata/oauth2-mock-server")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, node, "server.mjs")
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe() // the server exits when it closes
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdin.Close(); cancel(); cmd.Wait() })
	first := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			first <- sc.Text()
		}
		for sc.Scan() {
		}
	}()
	select {
	case issuer := <-first:
		if !strings.HasPrefix(issuer, "http://127.0.0.1:") {
			t.Fatalf("oauth2-mock-server printed %q, not its issuer", issuer)
		}
		return &mockOAuth{t: t, Issuer: issuer}
	case <-time.After(30 * time.Second):
		t.Fatal("oauth2-mock-server did not start")
	}
	return nil
}

// steer makes the next token responses grant the grant's scopes less
// withhold (space-separated), and refuse refreshes with invalid_grant.
func (m *mockOAuth) steer(withhold string, refuseRefresh bool) {
	m.t.Helper()
	body, _ := json.Marshal(map[string]any{"withhold": withhold, "refuse_refresh": refuseRefresh})
	resp, err := http.Post(m.Issuer+"/control", "application/json", strings.NewReader(string(body)))
	if err != nil {
		m.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		m.t.Fatalf("control: %s", resp.Status)
	}
}

// revoked are the revocation requests the server received.
func (m *mockOAuth) revoked() []revocation {
	m.t.Helper()
	resp, err := http.Get(m.Issuer + "/revoked")
	if err != nil {
		m.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []revocation
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		m.t.Fatal(err)
	}
	return out
}

// refreshes says whether the server still takes a refresh token.
func (m *mockOAuth) refreshes(rt string) bool {
	m.t.Helper()
	resp, err := http.PostForm(m.Issuer+"/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {clientID}})
	if err != nil {
		m.t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

var calendarScopes = []string{"openid", "email", "offline_access", "calendar.read", "calendar.write"}

// newMockEnv is an env whose Calendar system is at oauth2-mock-server,
// found by its discovery document, asking for calendar scopes.
func newMockEnv(t *testing.T, open opener) (*env, *mockOAuth) {
	m := startMockOAuth(t)
	e := newBareEnv(t, open)
	var err error
	e.system, err = e.svc.SaveExternalSystem(e.ctx, tenantAdm, e.tenant, "", linked.ExternalSystemInput{ExternalSystem: usher.ExternalSystem{
		Name: "Calendar", Kind: usher.ExternalOAuth2, Issuer: m.Issuer, ClientID: clientID, ClientSecret: clientSecret,
		Scopes: calendarScopes, ReminderDays: 3}})
	if err != nil {
		t.Fatal(err)
	}
	return e, m
}

// authorizeMock runs a person's authorization at oauth2-mock-server, which
// signs in the link's login and sends the browser straight back, and
// returns Callback's outcome.
func (e *env) authorizeMock(l usher.Link) (linked.Page, error) {
	e.t.Helper()
	start, err := e.svc.Begin(e.ctx, e.tenant, l.ID, l.AccountID)
	if err != nil {
		e.t.Fatalf("begin: %v", err)
	}
	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := browser.Get(start.URL)
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	back, err := resp.Location()
	if err != nil {
		e.t.Fatalf("the authorization endpoint answered %s without sending the browser back", resp.Status)
	}
	if want := e.svc.CallbackURL(e.tenant); !strings.HasPrefix(back.String(), want+"?") {
		e.t.Fatalf("sent back to %s, not %s", back, want)
	}
	return e.svc.Callback(e.ctx, e.tenant, back.Query(), start.State)
}

func (e *env) refreshToken(id string) string {
	e.t.Helper()
	return e.reveal(e.record(id).RefreshToken, "link-refresh-token/"+e.tenant.ID+"/"+id)
}

// TestMockOAuthRevocation: the person's Revoke and the administrator's
// Unlink each revoke the link's refresh token at the provider's revocation
// endpoint (from its discovery document), which then refuses it, and
// erase the tokens in usher.
func TestMockOAuthRevocation(t *testing.T) {
	each(t, func(t *testing.T, open opener) {
		e, m := newMockEnv(t, open)
		ann, bob := e.account("ann@example.com"), e.account("bob@example.com")
		for i, end := range []func(l usher.Link) (usher.Link, error){
			func(l usher.Link) (usher.Link, error) {
				return e.svc.Revoke(e.ctx, usher.Actor{Kind: usher.ActorAccount, ID: ann.ID}, e.tenant, ann.ID, l.ID)
			},
			func(l usher.Link) (usher.Link, error) { return e.svc.Unlink(e.ctx, userAdm, e.tenant, l.ID) },
		} {
			a := []usher.Account{ann, bob}[i]
			l, err := e.svc.Link(e.ctx, userAdm, e.tenant, linked.LinkInput{AccountID: a.ID, ExternalSystemID: e.system.ID, Login: a.Email})
			if err != nil {
				t.Fatal(err)
			}
			page, err := e.authorizeMock(l)
			if err != nil {
				t.Fatalf("callback: %v", err)
			}
			if page.Link.State != usher.LinkAuthorized || page.Link.Subject != "johndoe" || strings.Join(page.Link.Scopes, " ") != strings.Join(calendarScopes, " ") {
				t.Fatalf("after the callback: %+v", page.Link)
			}
			rt := e.refreshToken(l.ID)
			seen := len(m.revoked())
			ended, err := end(l)
			if err != nil {
				t.Fatal(err)
			}
			if want := []string{usher.LinkRevoked, usher.LinkUnlinked}[i]; ended.State != want {
				t.Fatalf("ended as %s, want %s", ended.State, want)
			}
			got := m.revoked()[seen:]
			if len(got) != 1 || got[0].Token != rt || got[0].Hint != "refresh_token" || got[0].ClientID != clientID {
				t.Fatalf("%s: revocation requests %+v, want the refresh token's", ended.State, got)
			}
			if m.refreshes(rt) {
				t.Fatal("the provider still takes the revoked refresh token")
			}
			if rec := e.record(l.ID); rec.AccessToken != "" || rec.RefreshToken != "" {
				t.Fatalf("%s, but the tokens are kept", ended.State)
			}
			if strings.Contains(e.logs.String(), rt) {
				t.Fatal("a refresh token is in the log")
			}
		}
	})
}

// TestMockOAuthScopes: a refresh granting fewer scopes than the system
// needs moves the link to reauthorize naming what is missing; an
// authorization granting fewer is refused saying which; a refresh refused
// with invalid_grant moves the link to reauthorize.
func TestMockOAuthScopes(t *testing.T) {
	each(t, func(t *testing.T, open opener) {
		e, m := newMockEnv(t, open)
		ann := e.account("ann@example.com")
		l, err := e.svc.Link(e.ctx, userAdm, e.tenant, linked.LinkInput{AccountID: ann.ID, ExternalSystemID: e.system.ID, Login: "ann@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.authorizeMock(l); err != nil {
			t.Fatalf("callback: %v", err)
		}

		// A refresh with every scope: new tokens, the rotated refresh
		// token kept.
		rt := e.refreshToken(l.ID)
		_, exp, err := e.svc.Token(e.ctx, e.tenant, l.ID)
		if err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(exp.Sub(e.clock.Now()) - 2*time.Minute)
		if _, _, err := e.svc.Token(e.ctx, e.tenant, l.ID); err != nil {
			t.Fatal(err)
		}
		if rt2 := e.refreshToken(l.ID); rt2 == rt || m.refreshes(rt) {
			t.Fatal("the provider rotated the refresh token and usher kept the old one")
		}

		// The provider's next refresh grants less: the person is asked again.
		m.steer("calendar.write", false)
		rec := e.record(l.ID)
		e.clock.Advance(rec.NextAt.Sub(e.clock.Now()) + time.Second)
		w := linked.NewWorker(e.svc, linked.WorkerOptions{})
		if n, err := w.RunOnce(e.ctx); err != nil || n != 1 {
			t.Fatalf("worker: claimed %d, %v", n, err)
		}
		rec = e.record(l.ID)
		if rec.State != usher.LinkReauthorize || rec.AccessToken != "" || rec.RefreshToken != "" || !strings.Contains(rec.LastError, "calendar.write") ||
			strings.Contains(rec.LastError, "calendar.read") {
			t.Fatalf("after a refresh granting less: %+v", rec.Link)
		}
		if len(e.out.queued(linked.KindReauthorize)) != 1 || e.audited("link.reauthorize", l.ID) != 1 {
			t.Fatal("the person was not asked to authorize again")
		}

		// An authorization granting less is refused, naming the scope;
		// nothing is kept, and the grant is revoked at the provider. (The
		// clock back at the provider's, which the ID token's expiry is
		// checked against.)
		e.clock.Advance(time.Now().Sub(e.clock.Now()))
		seen := len(m.revoked())
		_, err = e.authorizeMock(l)
		var pe *linked.ProviderError
		if !errors.As(err, &pe) || !strings.Contains(pe.Message, "calendar.write is missing") {
			t.Fatalf("an authorization without calendar.write: %v", err)
		}
		if rec := e.record(l.ID); rec.State != usher.LinkReauthorize || rec.AccessToken != "" || rec.RefreshToken != "" {
			t.Fatalf("after the refused authorization: %+v", rec.Link)
		}
		if got := m.revoked()[seen:]; len(got) != 1 || got[0].Hint != "refresh_token" || got[0].Token == "" || m.refreshes(got[0].Token) {
			t.Fatalf("the refused grant was not revoked at the provider: %+v", got)
		}

		// Granted in full, then the provider refuses the refresh token.
		m.steer("", false)
		if page, err := e.authorizeMock(l); err != nil || page.Link.State != usher.LinkAuthorized {
			t.Fatalf("re-authorization: %v", err)
		}
		m.steer("", true)
		rec = e.record(l.ID)
		e.clock.Advance(rec.ExpiresAt.Sub(e.clock.Now()) - time.Minute)
		_, _, err = e.svc.Token(e.ctx, e.tenant, l.ID)
		storetest.WantCode(t, err, usher.CodeConflict, "")
		if rec := e.record(l.ID); rec.State != usher.LinkReauthorize || rec.RefreshToken != "" || !strings.Contains(rec.LastError, "invalid_grant") {
			t.Fatalf("after invalid_grant: %+v", rec.Link)
		}
	})
}

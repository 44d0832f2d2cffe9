package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/internal/browsertest"
	"github.com/usherhq/usher/internal/testews"
	"github.com/usherhq/usher/internal/testidp"
	"github.com/usherhq/usher/linked"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/store"
)

var linkPageRE = regexp.MustCompile(`https?://[^\s"<>]+/links/[A-Za-z0-9_-]+`)

// TestBrowserLinkedAccount is seed 001's linked calendar in Chromium, with
// Dex as the calendar's OAuth server: an administrator links a person's
// account, the person opens the message's link, signs in to usher, sees
// what will be connected and why, connects at Dex and finds the link
// connected on their account page; when the provider refuses the refresh
// for real, the worker asks the person again, and the person reconnects
// from the new message, then revokes it from their page. Then an Exchange
// link, connected with the person's own Exchange credentials.
func TestBrowserLinkedAccount(t *testing.T) {
	sw := newBrowserWorld(t)
	ctx := context.Background()
	ann := sw.activeUser(t, sw.tenant, "Ann", "ann@example.com", "ann-usher-password-1")
	const dexClient, dexSecret = "calendar", "calendar-secret"
	dex := testidp.StartDex(t, testidp.DexConfig{
		Clients: []testidp.DexClient{{ID: dexClient, Secret: dexSecret, RedirectURIs: []string{sw.url + "/t/acme/links/callback"}}},
		Users:   []testidp.DexUser{{Email: "ann@example.com", Password: "ann-at-dex"}},
	})
	dexHost := mustURL(dex.Issuer).Host
	svc := sw.srv.cfg.Linked
	x, err := svc.SaveExternalSystem(ctx, usher.Actor{Kind: "token", Role: usher.AdminTenant}, sw.tenant, "", linked.ExternalSystemInput{
		ExternalSystem: usher.ExternalSystem{Name: "Team Calendar", Kind: usher.ExternalOAuth2, Issuer: dex.Issuer, ClientID: dexClient,
			ClientSecret: dexSecret, Scopes: []string{"openid", "email", "offline_access"}}})
	if err != nil {
		t.Fatal(err)
	}
	// The administrator links Ann's account (the console's form calls the same).
	l, err := svc.Link(ctx, usher.Actor{Kind: "token", Role: usher.AdminUser}, sw.tenant, linked.LinkInput{AccountID: ann.ID, ExternalSystemID: x.ID, Login: "ann@example.com"})
	if err != nil {
		t.Fatal(err)
	}

	// messageLink is the link page in the newest queued message of kind.
	messageLink := func(kind string, want int) string {
		t.Helper()
		msgs, _, err := sw.st.Read().Messages(ctx, sw.tenant.ID, store.MessageFilter{AccountID: ann.ID, Kind: kind, Channel: usher.ChannelEmail}, store.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != want {
			t.Fatalf("%d %s messages queued, want %d", len(msgs), kind, want)
		}
		m := written(t, sw.svc, msgs[len(msgs)-1:])[0]
		if m.State != usher.MessageQueued {
			t.Fatalf("the %s message is %s", kind, m.State)
		}
		link := linkPageRE.FindString(m.Body)
		if link == "" || !strings.HasSuffix(link, "/links/"+l.ID) {
			t.Fatalf("the %s message has no link to the link's page:\n%s", kind, m.Body)
		}
		return link
	}
	// connectAtDex clicks Connect and signs in at Dex (unless Dex still
	// knows the browser), back at usher's page.
	connectAtDex := func(p *browsertest.Page) {
		t.Helper()
		p.NoChecks = true // Dex's pages are not usher's
		p.ClickLink("Connect")
		deadline := time.Now().Add(browsertest.ActionTimeout)
		for {
			u := p.URL()
			if mustURL(u).Host != dexHost && browsertest.Eval[string](p, `document.readyState`) == "complete" {
				break // back at usher
			}
			if strings.Contains(u, dexHost) && browsertest.Eval[string](p, `document.readyState`) == "complete" &&
				browsertest.Eval[bool](p, `!!document.querySelector('#login')`) {
				p.Fill("Email Address", "ann@example.com")
				p.Fill("Password", "ann-at-dex")
				p.Click("Login")
				continue
			}
			if time.Now().After(deadline) {
				t.Fatalf("not back from Dex: at %s, %q", u, p.H1())
			}
			time.Sleep(20 * time.Millisecond)
		}
		// The way back's page is usher's, but arrived at unchecked; the
		// account page after it is checked.
		p.NoChecks = false
	}
	// openSignedIn opens a page, signing in to usher on the way when the
	// session is gone.
	openSignedIn := func(p *browsertest.Page, link string) {
		t.Helper()
		p.Open(link)
		if p.H1() == "Sign in" {
			p.Fill("Email, username or phone number", "ann@example.com")
			p.Click("Continue")
			p.WantH1("Enter your password")
			p.Fill("Password", "ann-usher-password-1")
			p.Click("Sign in")
		}
	}

	// Ann opens her message's link: first usher's sign-in, then the page
	// that says what will be connected and why.
	link := messageLink(provision.KindLinkAuthorize, 1)
	p := browsertest.New(t)
	p.Open(link)
	p.WantH1("Sign in")
	openSignedIn(p, link)
	p.WantH1("Connect your Team Calendar account")
	p.WantText("ann@example.com", "on your behalf", "You can revoke it at any time")
	connectAtDex(p)
	p.WantH1("Your Team Calendar account is connected")
	if got, _ := svc.GetLink(ctx, sw.tenant, l.ID); got.State != usher.LinkAuthorized {
		t.Fatalf("after connecting: %+v", got)
	}
	p.Open(sw.url + "/t/acme/account")
	p.WantText("Linked accounts", "Team Calendar", "ann@example.com", "connected", "Revoke")
	p.WantNoText("waiting for you", "Reconnect")
	p.Screenshot("linked-account")

	// The provider refuses the refresh for real: another program uses the
	// refresh token, Dex rotates it, and the one usher holds is dead.
	rec, err := sw.st.Read().Link(ctx, sw.tenant.ID, l.ID)
	if err != nil || rec.RefreshToken == "" || rec.NextAt == nil {
		t.Fatalf("the link's record: %+v, %v", rec.Link, err)
	}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rec.RefreshToken}, "client_id": {dexClient}, "client_secret": {dexSecret}}
	resp, err := http.PostForm(dex.Issuer+"/token", form)
	if err != nil {
		t.Fatal(err)
	}
	var rotated struct {
		RefreshToken string `json:"refresh_token"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&rotated) != nil || rotated.RefreshToken == "" {
		t.Fatalf("the refresh at Dex: %s", resp.Status)
	}
	resp.Body.Close()
	sw.clock.Advance(rec.NextAt.Sub(sw.clock.Now()) + time.Second)
	if n, err := linked.NewWorker(svc, linked.WorkerOptions{}).RunOnce(ctx); err != nil || n != 1 {
		t.Fatalf("the worker claimed %d: %v", n, err)
	}
	if got, _ := svc.GetLink(ctx, sw.tenant, l.ID); got.State != usher.LinkReauthorize {
		t.Fatalf("after the refused refresh: %+v", got)
	}

	// The reauthorize message: Ann opens it and reconnects.
	link = messageLink(provision.KindLinkReauthorize, 1)
	openSignedIn(p, sw.url+"/t/acme/account")
	p.WantText("Team Calendar", "needs you to reconnect", "Reconnect")
	openSignedIn(p, link)
	p.WantH1("Connect your Team Calendar account")
	connectAtDex(p)
	p.WantH1("Your Team Calendar account is connected")
	p.Open(sw.url + "/t/acme/account")
	p.WantText("Team Calendar", "connected")
	p.WantNoText("needs you to reconnect", "Reconnect")
	if got, _ := svc.GetLink(ctx, sw.tenant, l.ID); got.State != usher.LinkAuthorized {
		t.Fatalf("after reconnecting: %+v", got)
	}

	// Ann revokes it from her account page.
	p.Click("Revoke")
	p.WantH1("Your account")
	wantAlert(t, p, "The link is revoked")
	p.WantText("Team Calendar", "revoked")
	p.WantNoText("Revoke")
	if got, _ := svc.GetLink(ctx, sw.tenant, l.ID); got.State != usher.LinkRevoked {
		t.Fatalf("after revoking: %+v", got)
	}

	// Exchange on-premises: Ann's own Exchange credentials on the link's
	// page, checked with the EWS server; a wrong password is said so.
	ews := testews.Start(t, map[string]string{"ann@corp.example": "ann-at-exchange"})
	ex, err := svc.SaveExternalSystem(ctx, usher.Actor{Kind: "token", Role: usher.AdminTenant}, sw.tenant, "", linked.ExternalSystemInput{
		ExternalSystem: usher.ExternalSystem{Name: "Corp Exchange", Kind: usher.ExternalExchange, EWSURL: ews.URL}})
	if err != nil {
		t.Fatal(err)
	}
	if l, err = svc.Link(ctx, usher.Actor{Kind: "token", Role: usher.AdminUser}, sw.tenant, linked.LinkInput{AccountID: ann.ID, ExternalSystemID: ex.ID, Login: "ann@corp.example"}); err != nil {
		t.Fatal(err)
	}
	p.Open(sw.url + "/t/acme/account")
	p.WantText("Corp Exchange", "waiting for you")
	p.ClickLink("Connect")
	p.WantH1("Connect your Corp Exchange account")
	p.WantText("stores the password encrypted")
	if got := p.Value("Exchange user name"); got != "ann@corp.example" {
		t.Fatalf("the user name field holds %q", got)
	}
	p.Fill("Exchange password", "not-the-password")
	p.Click("Connect")
	wantFieldError(t, p, "Exchange password", "The user name or password was not accepted by Corp Exchange.")
	p.Fill("Exchange password", "ann-at-exchange")
	p.Click("Connect")
	p.WantH1("Your Corp Exchange account is connected")
	p.Open(sw.url + "/t/acme/account")
	p.WantText("Corp Exchange", "ann@corp.example", "connected")
	if got, _ := svc.GetLink(ctx, sw.tenant, l.ID); got.State != usher.LinkAuthorized {
		t.Fatalf("the Exchange link after its credentials: %+v", got)
	}
}

package web

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/apitoken"
	"github.com/usherhq/usher/internal/testidp"
	"github.com/usherhq/usher/linked"
	"github.com/usherhq/usher/store"
)

// noMessages stands in for provision's link messages: the pages are tested
// here, the messages in package linked.
type noMessages struct{}

func (noMessages) Queue(context.Context, *store.Tx, string) ([]usher.Message, error) { return nil, nil }

var connectRE = regexp.MustCompile(`href="([^"]*/links/[^"]+/connect)"`)

// TestLinkedAccountPages: the page a link's message leads to, for its own
// signed-in person only, hands over to the provider (Dex) and shows the
// account connected; the product then gets its access token.
func TestLinkedAccountPages(t *testing.T) {
	onEachDatabaseWorld(t, func(t *testing.T, w *signinWorld) {
		ctx := context.Background()
		ann := w.activeUser(t, w.tenant, "Ann", "ann@example.com", "ann-usher-password-1")
		w.activeUser(t, w.tenant, "Bob", "bob@example.com", "bob-usher-password-1")
		dex := testidp.StartDex(t, testidp.DexConfig{
			Clients: []testidp.DexClient{{ID: "calendar", Secret: "calendar-secret", RedirectURIs: []string{w.url + "/t/acme/links/callback"}}},
			Users:   []testidp.DexUser{{Email: "ann@example.com", Password: "ann-at-dex"}, {Email: "bob@example.com", Password: "bob-at-dex"}},
		})
		svc := linked.New(linked.Deps{Store: w.st, Now: w.clock.Now, Base: w.srv.cfg.Links.TenantBase,
			Messages: func(context.Context, usher.Tenant, usher.Account, string, string, bool, string) (linked.Outbox, error) {
				return noMessages{}, nil
			}})
		x, err := svc.SaveExternalSystem(ctx, usher.Actor{Kind: "token", Role: usher.AdminTenant}, w.tenant, "", linked.ExternalSystemInput{
			ExternalSystem: usher.ExternalSystem{Name: "Calendar", Kind: usher.ExternalOAuth2, Issuer: dex.Issuer, ClientID: "calendar",
				ClientSecret: "calendar-secret", Scopes: []string{"openid", "email", "offline_access"}}})
		if err != nil {
			t.Fatal(err)
		}
		l, err := svc.Link(ctx, usher.Actor{Kind: "token", Role: usher.AdminUser}, w.tenant, linked.LinkInput{AccountID: ann.ID, ExternalSystemID: x.ID, Login: "ann@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		page := "/t/acme/links/" + l.ID

		// Not signed in: the sign-in page, coming back here after.
		p := w.browser(t).get(page)
		if p.status != http.StatusOK || !strings.Contains(p.url, "next="+strings.ReplaceAll(page, "/", "%2F")) {
			t.Fatalf("not signed in: %d at %s", p.status, p.url)
		}
		// Another person's link is not found.
		bob := w.browser(t)
		bob.signIn("acme", "bob@example.com", "bob-usher-password-1")
		wantPage(t, bob.get(page), http.StatusNotFound, "There is nothing to connect here")

		b := w.browser(t)
		b.signIn("acme", "ann@example.com", "ann-usher-password-1")
		p = b.get(page)
		wantPage(t, p, http.StatusOK, "Connect your Calendar account", "ann@example.com")
		// Opening the page used nothing up: it opens again.
		wantPage(t, b.get(page), http.StatusOK, "Connect your Calendar account")
		m := connectRE.FindStringSubmatch(p.body)
		if m == nil {
			t.Fatalf("no Connect link:\n%s", p.body)
		}
		connect := html.UnescapeString(m[1])
		if strings.HasPrefix(connect, "/") {
			connect = w.url + connect
		}
		back, err := dex.LoginAt(ctx, b.c, connect, "ann@example.com", "ann-at-dex")
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("GET", back.String(), nil)
		wantPage(t, b.do(req), http.StatusOK, "Your Calendar account is connected")
		if got, err := svc.GetLink(ctx, w.tenant, l.ID); err != nil || got.State != usher.LinkAuthorized {
			t.Fatalf("after the callback: %+v, %v", got, err)
		}

		// The product's access token, with a tenant token.
		_, secret, err := w.srv.apiTokens.CreateToken(ctx, opActor, w.tenant, apitoken.TokenInput{Name: "product", Role: usher.AdminUser})
		if err != nil {
			t.Fatal(err)
		}
		req, _ = http.NewRequest("GET", w.url+"/api/v1/tenants/"+w.tenant.Slug+"/links/"+l.ID+"/token", nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var tok struct {
			AccessToken  string `json:"access_token"`
			RefreshToken string `json:"refresh_token"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != http.StatusOK || tok.AccessToken == "" || tok.RefreshToken != "" {
			t.Fatalf("token: %d %+v %v", resp.StatusCode, tok, err)
		}
		if strings.Contains(w.log.String(), tok.AccessToken) {
			t.Fatal("the access token is in the server's log")
		}
	})
}

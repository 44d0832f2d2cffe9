package web

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/apitoken"
	"github.com/usherhq/usher/internal/testews"
	"github.com/usherhq/usher/linked"
	"github.com/usherhq/usher/store"
)

// TestLinkedAccountsOfThePerson: the person's account page lists their
// own links with their state in plain words and the way to connect them;
// an Exchange link takes the person's Exchange credentials on its page,
// checked with the EWS server (a wrong password is said so and keeps
// nothing); the person revokes a link from their page, and nobody else can.
func TestLinkedAccountsOfThePerson(t *testing.T) {
	onEachDatabaseWorld(t, func(t *testing.T, w *signinWorld) {
		ctx := context.Background()
		svc := w.srv.cfg.Linked
		ann := w.activeUser(t, w.tenant, "Ann", "ann@example.com", "ann-usher-password-1")
		w.activeUser(t, w.tenant, "Bob", "bob@example.com", "bob-usher-password-1")
		const exPassword = "Ann's-Exchange-pässword-1"
		ews := testews.Start(t, map[string]string{"ann@corp.example": exPassword})
		x, err := svc.SaveExternalSystem(ctx, usher.Actor{Kind: "token", Role: usher.AdminTenant}, w.tenant, "", linked.ExternalSystemInput{
			ExternalSystem: usher.ExternalSystem{Name: "Corp Exchange", Kind: usher.ExternalExchange, EWSURL: ews.URL}})
		if err != nil {
			t.Fatal(err)
		}
		l, err := svc.Link(ctx, usher.Actor{Kind: "token", Role: usher.AdminUser}, w.tenant, linked.LinkInput{AccountID: ann.ID, ExternalSystemID: x.ID, Login: "ann@corp.example"})
		if err != nil {
			t.Fatal(err)
		}
		page := "/t/acme/links/" + l.ID

		b := w.browser(t)
		b.signIn("acme", "ann@example.com", "ann-usher-password-1")
		wantPage(t, b.get("/t/acme/account"), http.StatusOK, "Linked accounts", "Corp Exchange", "ann@corp.example", "waiting for you",
			`href="`+w.url+page+`">Connect</a>`)

		// The link's page asks for the Exchange credentials, and says why.
		p := b.get(page)
		wantPage(t, p, http.StatusOK, "Connect your Corp Exchange account", "Exchange user name", `value="ann@corp.example"`,
			"stores the password encrypted", `action="`+w.url+page+`/exchange"`)
		if strings.Contains(p.body, "/connect") {
			t.Fatalf("an Exchange link's page offers the provider's consent:\n%s", p.body)
		}
		p = b.post(page+"/exchange", "username", "ann@corp.example", "password", "not-the-password")
		wantPage(t, p, http.StatusUnprocessableEntity, "The user name or password was not accepted by Corp Exchange.", `value="ann@corp.example"`)
		if strings.Contains(p.body, "not-the-password") {
			t.Fatal("the page shows the password typed")
		}
		if rec, _ := w.st.Read().Link(ctx, w.tenant.ID, l.ID); rec.State != usher.LinkPending || rec.Password != "" {
			t.Fatalf("after a wrong password: %+v", rec.Link)
		}
		// Bob can neither authorize nor revoke Ann's link.
		bob := w.browser(t)
		bob.signIn("acme", "bob@example.com", "bob-usher-password-1")
		wantPage(t, bob.post(page+"/exchange", "username", "ann@corp.example", "password", exPassword), http.StatusNotFound, "There is nothing to connect here")
		wantPage(t, bob.post(page+"/revoke"), http.StatusNotFound, "There is nothing to connect here")

		wantPage(t, b.post(page+"/exchange", "username", "ann@corp.example", "password", exPassword), http.StatusOK, "Your Corp Exchange account is connected")
		// A product asking for the Exchange link's token is refused: it
		// holds credentials, not tokens.
		_, secret, err := w.srv.apiTokens.CreateToken(ctx, opActor, w.tenant, apitoken.TokenInput{Name: "product", Role: usher.AdminUser})
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("GET", w.url+"/api/v1/tenants/"+w.tenant.Slug+"/links/"+l.ID+"/token", nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusConflict || !strings.Contains(string(body), "credentials, not OAuth tokens") || strings.Contains(string(body), exPassword) {
			t.Fatalf("an Exchange link's token: %d %s", resp.StatusCode, body)
		}
		p = b.get("/t/acme/account")
		wantPage(t, p, http.StatusOK, "Corp Exchange", "connected", `action="`+w.url+page+`/revoke"`)
		if strings.Contains(p.body, ">Connect</a>") || strings.Contains(p.body, "Reconnect") {
			t.Fatalf("a connected link offers to connect:\n%s", p.body)
		}

		// The password is changed at Exchange: the worker's daily check is
		// refused, and the person is asked to reconnect, with the reason.
		ews.SetPassword("ann@corp.example", "a-new-password")
		w.clock.Advance(25 * time.Hour)
		if n, err := linked.NewWorker(svc, linked.WorkerOptions{}).RunOnce(ctx); err != nil || n != 1 {
			t.Fatalf("the worker claimed %d: %v", n, err)
		}
		b = w.browser(t)
		b.signIn("acme", "ann@example.com", "ann-usher-password-1")
		wantPage(t, b.get("/t/acme/account"), http.StatusOK, "Corp Exchange", "needs you to reconnect", `href="`+w.url+page+`">Reconnect</a>`)
		wantPage(t, b.get(page), http.StatusOK, "Corp Exchange no longer accepts the password usher kept", `value="ann@corp.example"`)
		wantPage(t, b.post(page+"/exchange", "username", "ann@corp.example", "password", "a-new-password"), http.StatusOK, "Your Corp Exchange account is connected")

		// Revoking from another site is refused; from the page, it is done.
		req, _ = http.NewRequest("POST", w.url+page+"/revoke", nil)
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		if got := b.do(req); got.status != http.StatusForbidden {
			t.Fatalf("a cross-site revoke: %d", got.status)
		}
		p = b.post(page + "/revoke")
		wantPage(t, p, http.StatusOK, "The link is revoked", "revoked")
		if !strings.Contains(p.url, "/t/acme/account?revoked") {
			t.Fatalf("after revoking: at %s", p.url)
		}
		if strings.Contains(html.UnescapeString(p.body), page+"/revoke") {
			t.Fatal("a revoked link offers to revoke it again")
		}
		rec, _ := w.st.Read().Link(ctx, w.tenant.ID, l.ID)
		if rec.State != usher.LinkRevoked || rec.Password != "" {
			t.Fatalf("after revoking: %+v", rec.Link)
		}
		evs, _, _ := w.st.Read().AuditEvents(ctx, w.tenant.ID, store.AuditFilter{TargetID: l.ID, Action: "link.revoked"}, store.ListOptions{})
		if len(evs) != 1 || evs[0].ActorID != ann.ID {
			t.Fatalf("link.revoked events: %+v", evs)
		}
		// Once revoked, the page is no longer there; an unlinked link is
		// not listed at all.
		wantPage(t, b.get(page), http.StatusNotFound, "There is nothing to connect here")

		// An Exchange server that cannot be reached: said so.
		gone := httptest.NewServer(nil)
		gone.Close()
		y, err := svc.SaveExternalSystem(ctx, usher.Actor{Kind: "token", Role: usher.AdminTenant}, w.tenant, "", linked.ExternalSystemInput{
			ExternalSystem: usher.ExternalSystem{Name: "Old Exchange", Kind: usher.ExternalExchange, EWSURL: gone.URL}})
		if err != nil {
			t.Fatal(err)
		}
		l2, err := svc.Link(ctx, usher.Actor{Kind: "token", Role: usher.AdminUser}, w.tenant, linked.LinkInput{AccountID: ann.ID, ExternalSystemID: y.ID, Login: "ann@old.example"})
		if err != nil {
			t.Fatal(err)
		}
		wantPage(t, b.post("/t/acme/links/"+l2.ID+"/exchange", "username", "ann", "password", "pw"), http.StatusBadGateway,
			"Could not reach Old Exchange; try again later.")
		if _, err := svc.Unlink(ctx, usher.Actor{Kind: "token", Role: usher.AdminUser}, w.tenant, l2.ID); err != nil {
			t.Fatal(err)
		}
		if p := b.get("/t/acme/account"); strings.Contains(p.body, "Old Exchange") {
			t.Fatalf("an unlinked link is listed:\n%s", p.body)
		}
		for _, pw := range []string{exPassword, "not-the-password", "a-new-password"} {
			if strings.Contains(w.log.String(), pw) {
				t.Fatal("a password is in the server's log")
			}
		}
	})
}

package openid_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/store"
)

// deliveries is a page of the logout deliveries API.
type deliveries struct {
	Items []map[string]any `json:"items"`
	Next  string           `json:"next"`
}

// tenantToken makes an API token of tn with role and returns its secret.
func (w *world) tenantToken(t *testing.T, tn usher.Tenant, role string) string {
	t.Helper()
	r := w.api(t, "POST", "/api/v1/tenants/"+tn.Slug+"/tokens", map[string]any{"name": role, "role": role})
	if r.status != 201 {
		t.Fatalf("create a %s token: %d %s", role, r.status, r.body)
	}
	return jsonOf(t, r.body)["secret"].(string)
}

// apiWith calls the admin API with token.
func (w *world) apiWith(t *testing.T, token, method, path string) reply {
	t.Helper()
	req, _ := http.NewRequest(method, w.url+path, bytes.NewReader(nil))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, body: string(b), header: resp.Header}
}

// TestLogoutDeliveries: a tenant administrator lists a product's
// back-channel logouts through the API, newest first, a page at a time,
// with their state, attempts, next attempt and last failure in words
// (never the logout token nor the address's query); retries an abandoned
// one, which the worker then delivers, audited; a delivered one cannot be
// retried; another tenant's administrator finds none of it, and a user
// administrator may not read it.
func TestLogoutDeliveries(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		ada := w.ada(t)
		rc := newReceiver(t, w.clock.Now)
		rc.fail["/a"] = 1 << 20
		const secret = "s3cret-in-the-query"
		c := w.client(t, w.tenant, map[string]any{"name": "Ledger", "redirect_uris": []string{callback}, "backchannel_logout_uri": rc.url + "/a?key=" + secret})
		ledger := w.rp(t, w.tenant, c.ID, c.ClientSecret)
		admin := w.tenantToken(t, w.tenant, usher.AdminTenant)
		base := "/api/v1/tenants/acme/clients/" + c.ID + "/logout-deliveries"
		list := func(query string) deliveries {
			t.Helper()
			r := w.apiWith(t, admin, "GET", base+query)
			if r.status != 200 {
				t.Fatalf("list the deliveries: %d %s", r.status, r.body)
			}
			if strings.Contains(r.body, secret) || strings.Contains(r.body, "logout_token") {
				t.Fatalf("the list shows the address's query or a token: %s", r.body)
			}
			for _, tok := range rc.tokens("/a") {
				if strings.Contains(r.body, tok) {
					t.Fatal("the list shows a logout token")
				}
			}
			var d deliveries
			if err := json.Unmarshal([]byte(r.body), &d); err != nil {
				t.Fatal(err)
			}
			return d
		}
		one := func() map[string]any {
			t.Helper()
			d := list("")
			if len(d.Items) != 1 {
				t.Fatalf("%d deliveries, want 1", len(d.Items))
			}
			return d.Items[0]
		}

		signOut := func() any {
			t.Helper()
			b := w.browser(t)
			sid := ledger.signedIn(b).claims["sid"]
			b.post(w.issuer(w.tenant) + "/signout")
			w.clock.Advance(time.Second)
			return sid
		}
		sid := signOut()
		d := one()
		if d["state"] != "queued" || d["attempts"] != 0.0 || d["next_attempt_at"] == nil || d["retryable"] != false || d["problem"] != nil ||
			d["account_id"] != ada.ID || d["sid"] != sid || d["reason"] != "signed out" {
			t.Fatalf("a queued delivery: %v", d)
		}
		w.deliver(t) // 503
		d = one()
		if d["state"] != "queued" || d["attempts"] != 1.0 || d["last_status"] != 503.0 || d["last_failure"] != "answered" ||
			d["problem"] != "The product answered 503 Service Unavailable." || d["retryable"] != true {
			t.Fatalf("a delivery waiting for its next attempt: %v", d)
		}
		event := d["id"].(string)
		// Two more sign-outs (ID tokens are checked against the wall clock,
		// so they come before the clock moves on a day), failing too.
		signOut()
		signOut()
		w.deliver(t)
		w.clock.Advance(25 * time.Hour)
		w.deliver(t) // 503 again, a day later: abandoned
		all := list("")
		if len(all.Items) != 3 || all.Items[2]["id"] != event {
			t.Fatalf("%d deliveries, the first sign-out's last", len(all.Items))
		}
		for _, d := range all.Items {
			if d["state"] != "abandoned" || d["attempts"] != 2.0 || d["abandoned_at"] == nil || d["next_attempt_at"] != nil || d["retryable"] != true {
				t.Fatalf("an abandoned delivery: %v", d)
			}
		}
		w.deliver(t)
		if rc.triesAt("/a") != 6 {
			t.Fatalf("an abandoned delivery was tried again: %d tries", rc.triesAt("/a"))
		}
		rc.mu.Lock()
		rc.fail["/a"] = 0 // the product is back
		rc.mu.Unlock()

		// Another tenant's administrator: not found, whatever the action.
		globex, _ := w.newTenant(t, "globex")
		other := w.tenantToken(t, globex, usher.AdminTenant)
		for _, r := range []reply{w.apiWith(t, other, "GET", "/api/v1/tenants/globex/clients/"+c.ID+"/logout-deliveries"),
			w.apiWith(t, other, "POST", "/api/v1/tenants/globex/clients/"+c.ID+"/logout-deliveries/"+event+"/retry"),
			w.apiWith(t, other, "GET", base)} {
			if r.status != 404 && r.status != 403 {
				t.Fatalf("another tenant's administrator: %d %s", r.status, r.body)
			}
		}
		if r := w.apiWith(t, other, "GET", "/api/v1/tenants/globex/clients/"+c.ID+"/logout-deliveries"); r.status != 404 {
			t.Fatalf("another tenant's client: %d, want 404", r.status)
		}
		// A retry through another client of the same tenant is not found either.
		books := w.client(t, w.tenant, map[string]any{"name": "Books", "redirect_uris": []string{callback}, "backchannel_logout_uri": rc.url + "/b"})
		if r := w.apiWith(t, admin, "POST", "/api/v1/tenants/acme/clients/"+books.ID+"/logout-deliveries/"+event+"/retry"); r.status != 404 {
			t.Fatalf("a retry through another product: %d %s", r.status, r.body)
		}
		if r := w.apiWith(t, w.tenantToken(t, w.tenant, usher.AdminUser), "GET", base); r.status != 403 {
			t.Fatalf("a user administrator: %d, want 403", r.status)
		}
		if r := w.apiWith(t, admin, "GET", base+"?state=lost"); r.status != 400 && r.status != 422 {
			t.Fatalf("an unknown state: %d", r.status)
		}

		// Retried: due now, delivered at the worker's next pass, audited.
		r := w.apiWith(t, admin, "POST", base+"/"+event+"/retry")
		if r.status != 200 {
			t.Fatalf("retry: %d %s", r.status, r.body)
		}
		if d = jsonOf(t, r.body); d["state"] != "queued" || d["next_attempt_at"] != w.clock.Now().Format(time.RFC3339) {
			t.Fatalf("the retried delivery: %v (now %s)", d, w.clock.Now().Format(time.RFC3339))
		}
		w.deliver(t)
		if got := rc.tokens("/a"); len(got) != 1 || w.verifyLogout(t, rc, w.tenant, got[0], c.ID)["jti"] != event {
			t.Fatalf("after the retry the product has %d logout tokens", len(got))
		}
		delivered := list("?state=delivered")
		if len(delivered.Items) != 1 {
			t.Fatalf("%d delivered, want the retried one", len(delivered.Items))
		}
		if d = delivered.Items[0]; d["id"] != event || d["attempts"] != 3.0 || d["delivered_at"] == nil || d["problem"] != nil || d["last_status"] != nil ||
			d["retryable"] != false {
			t.Fatalf("the delivery after its retry: %v", d)
		}
		audit, _, err := w.st.Read().AuditEvents(ctx, w.tenant.ID, store.AuditFilter{Action: "client.logout_retried"}, store.ListOptions{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(audit) != 1 || audit[0].TargetID != c.ID || audit[0].Details["event_id"] != event || audit[0].Details["was"] != "abandoned" ||
			audit[0].ActorKind != usher.ActorToken {
			t.Fatalf("the retry's audit: %+v", audit)
		}
		if r := w.apiWith(t, admin, "POST", base+"/"+event+"/retry"); r.status != 409 {
			t.Fatalf("a retry of a delivered one: %d %s", r.status, r.body)
		}

		// Newest first, two to a page, and by state.
		first := list("?limit=2")
		if len(first.Items) != 2 || first.Next == "" || first.Items[0]["state"] != "abandoned" {
			t.Fatalf("the first page: %d items, next %q", len(first.Items), first.Next)
		}
		second := list("?limit=2&after=" + url.QueryEscape(first.Next))
		if len(second.Items) != 1 || second.Next != "" || second.Items[0]["id"] != event {
			t.Fatalf("the second page: %v (next %q), want the first sign-out only", second.Items, second.Next)
		}
		if a, b := first.Items[0]["created_at"].(string), first.Items[1]["created_at"].(string); a <= b {
			t.Fatalf("not newest first: %s, then %s", a, b)
		}
		if got := list("?state=abandoned"); len(got.Items) != 2 {
			t.Fatalf("the abandoned ones: %d", len(got.Items))
		}
		if got := list("?state=queued"); len(got.Items) != 0 {
			t.Fatalf("the queued ones: %d", len(got.Items))
		}
	})
}

// consoleAdmin signs a browser in to tn's console as a tenant
// administrator with login and pw, at the console page path.
func (w *world) consoleAdmin(t *testing.T, tn usher.Tenant, login, pw, path string) (*browser, page) {
	t.Helper()
	b := w.browser(t)
	p := b.get(w.issuer(tn) + path)
	m := nextRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("the console did not ask to sign in: %d %s", p.status, p.url)
	}
	next := strings.ReplaceAll(m[1], "&amp;", "&")
	b.post(w.issuer(tn)+"/signin", "identifier", login, "next", next)
	return b, b.post(w.issuer(tn)+"/signin/password", "identifier", login, "password", pw, "next", next)
}

// wantSays fails unless p has status and every text.
func wantSays(t *testing.T, p page, status int, texts ...string) {
	t.Helper()
	if p.status != status {
		t.Fatalf("%s: %d, want %d\n%s", p.url, p.status, status, p.body)
	}
	for _, s := range texts {
		if !strings.Contains(p.body, s) {
			t.Fatalf("%s does not say %q:\n%s", p.url, s, p.body)
		}
	}
}

// TestConsoleSignOutDeliveries: a product's page in the console lists its
// latest sign-out deliveries in a table, by the account's name, with the
// last problem in words and a Retry button for an abandoned one, which
// makes it delivered; the whole list is a page of its own, by state.
// Another tenant's product is not found there, and a post from another
// site is refused.
func TestConsoleSignOutDeliveries(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		w.ada(t)
		w.person(t, w.tenant, provision.AccountInput{AdminRole: usher.AdminTenant, Person: &provision.PersonInput{FirstName: "Grace", LastName: "Admin",
			Email: "grace@example.com"}}, "grace's admin passphrase")
		rc := newReceiver(t, w.clock.Now)
		rc.fail["/a"] = 1 << 20
		const secret = "s3cret-in-the-query"
		c := w.client(t, w.tenant, map[string]any{"name": "Ledger", "redirect_uris": []string{callback}, "backchannel_logout_uri": rc.url + "/a?key=" + secret})
		b := w.browser(t)
		w.rp(t, w.tenant, c.ID, c.ClientSecret).signedIn(b)
		b.post(w.issuer(w.tenant) + "/signout")
		w.deliver(t)
		w.clock.Advance(25 * time.Hour)
		w.deliver(t) // abandoned

		path := "/admin/clients/" + c.ID
		admin, p := w.consoleAdmin(t, w.tenant, "grace@example.com", "grace's admin passphrase", path)
		wantSays(t, p, 200, `<h2 id="sign-out-deliveries">Sign-out deliveries</h2>`, "<caption>The latest sign-outs sent to this product</caption>",
			`<th scope="col">When</th>`, `<th scope="col">Next attempt</th>`, ">Ada Lovelace</a>", ">abandoned</span>",
			"The product answered 503 Service Unavailable.", `/sign-out-deliveries/`, `name="from" value="client"`, "Retry now</button>")
		// The form shows the address as registered; the deliveries never do.
		_, section, _ := strings.Cut(p.body, `<section aria-labelledby="sign-out-deliveries">`)
		if section, _, _ = strings.Cut(section, "</section>"); section == "" || strings.Contains(section, secret) {
			t.Fatalf("the deliveries show the address's query:\n%s", section)
		}
		event := w.logoutEvents(t, w.tenant)[0].ID
		retry := w.issuer(w.tenant) + path + "/sign-out-deliveries/" + event + "/retry"

		// A post from another site is refused and changes nothing.
		req, _ := http.NewRequest("POST", retry, strings.NewReader("from=client"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		if p := admin.do(req); p.status != http.StatusForbidden {
			t.Fatalf("a cross-site retry: %d", p.status)
		}
		if e := w.logoutEvents(t, w.tenant)[0]; e.AbandonedAt == nil {
			t.Fatal("a cross-site retry retried")
		}

		rc.mu.Lock()
		rc.fail["/a"] = 0
		rc.mu.Unlock()
		p = admin.post(retry, "from", "client")
		wantSays(t, p, 200, "usher will deliver this sign-out again", ">retrying</span>")
		if !strings.HasSuffix(p.url, path+"#sign-out-deliveries") {
			t.Fatalf("after the retry the browser is at %s", p.url)
		}
		w.deliver(t)
		if len(rc.tokens("/a")) != 1 {
			t.Fatal("the retried sign-out was not delivered")
		}
		p = admin.get(w.issuer(w.tenant) + path)
		wantSays(t, p, 200, ">delivered</span>")
		if strings.Contains(p.body, "Retry now</button>") || strings.Contains(p.body, "503") {
			t.Fatalf("a delivered sign-out still offers a retry or its old problem:\n%s", p.body)
		}
		wantSays(t, admin.post(retry), 409, "delivered already")

		// The whole list, by state.
		list := w.issuer(w.tenant) + path + "/sign-out-deliveries"
		wantSays(t, admin.get(list), 200, "<h1>Sign-out deliveries to Ledger</h1>", "Sign-outs sent to this product, newest first", ">Ada Lovelace</a>")
		wantSays(t, admin.get(list+"?state=abandoned"), 200, "No sign-out deliveries to show.")

		// Another tenant's product and delivery are not found here.
		globex, _ := w.newTenant(t, "globex")
		g := w.client(t, globex, map[string]any{"name": "Globex app", "redirect_uris": []string{callback}, "backchannel_logout_uri": rc.url + "/g"})
		wantSays(t, admin.get(w.issuer(w.tenant)+"/admin/clients/"+g.ID+"/sign-out-deliveries"), 404)
		wantSays(t, admin.post(w.issuer(w.tenant)+"/admin/clients/"+g.ID+"/sign-out-deliveries/"+event+"/retry"), 404)
	})
}

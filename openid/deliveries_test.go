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

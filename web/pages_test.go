package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/apitoken"
	"github.com/usherhq/usher/catalog"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/signin"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/store/storetest"
)

// pagesWorld is a real server on a real SQLite store, for the pages people see.
type pagesWorld struct {
	srv    *httptest.Server
	svc    *provision.Service
	tokens *apitoken.Service
	tenant usher.Tenant
}

func newPagesWorld(t *testing.T) *pagesWorld {
	t.Helper()
	st := storetest.OpenSQLite(t, nil)
	srv := httptest.NewUnstartedServer(nil)
	links := Links{PublicURL: "http://" + srv.Listener.Addr().String()}
	svc := provision.New(st, nil, links)
	srv.Config.Handler = New(slog.New(slog.NewTextHandler(io.Discard, nil)), Config{Version: "test", Links: links}, st, svc, signin.New(st, svc, time.Now), nil)
	srv.Start()
	t.Cleanup(srv.Close)
	ctx := context.Background()
	op := usher.Actor{Kind: "operator", ID: "test", Role: usher.PrincipalOperator}
	tn, err := svc.CreateTenant(ctx, op, provision.TenantInput{Slug: "acme", Name: "Acme <Corp>"})
	if err != nil {
		t.Fatal(err)
	}
	seats, name := 10, "Std"
	p, err := catalog.New(st, svc).CreatePlan(ctx, op, tn, catalog.PlanInput{Key: "std", Name: &name, Seats: &seats})
	if err != nil {
		t.Fatal(err)
	}
	set := tn.Settings
	set.DefaultPlanID, set.SMSEnabled = p.ID, true
	if tn, err = svc.UpdateTenant(ctx, op, tn.ID, provision.TenantUpdate{Settings: &set}); err != nil {
		t.Fatal(err)
	}
	return &pagesWorld{srv: srv, svc: svc, tokens: apitoken.New(st, time.Now), tenant: tn}
}

func (w *pagesWorld) invite(t *testing.T, in provision.AccountInput) provision.Created {
	t.Helper()
	in.Route = provision.RouteNewUser
	c, err := w.svc.CreateAccount(context.Background(), usher.Actor{Kind: "token", Role: usher.AdminUser}, w.tenant, in)
	if err != nil {
		t.Fatal(err)
	}
	c.Messages = written(t, w.svc, c.Messages)
	return c
}

var linkRE = regexp.MustCompile(`http://\S+/activate/[A-Za-z0-9_-]+`)

func pageGet(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func pagePost(t *testing.T, u string, form url.Values, header ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestActivationPages(t *testing.T) {
	w := newPagesWorld(t)
	c := w.invite(t, provision.AccountInput{Person: &provision.PersonInput{FirstName: "Grace", LastName: "H", Email: "grace@example.com"}})
	link := linkRE.FindString(c.Messages[0].Body)
	if link == "" || !strings.HasPrefix(link, w.srv.URL+"/t/acme/activate/") {
		t.Fatalf("no activation link on this server in %q", c.Messages[0].Body)
	}
	code, body := pageGet(t, link)
	if code != 200 || !strings.Contains(body, "Choose your password") || !strings.Contains(body, `autocomplete="new-password"`) ||
		!strings.Contains(body, "Acme &lt;Corp&gt;") || !strings.Contains(body, `<meta name="viewport"`) {
		t.Fatalf("activation page: %d\n%s", code, body)
	}
	// A cross-site POST is refused and changes nothing.
	if code, _ := pagePost(t, link, url.Values{"password": {"correct horse battery"}, "confirm": {"correct horse battery"}},
		"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"); code != http.StatusForbidden {
		t.Fatalf("cross-site POST: %d", code)
	}
	code, body = pagePost(t, link, url.Values{"password": {"correct horse battery"}, "confirm": {"correct horse batterY"}})
	if code != 422 || !strings.Contains(body, "not the same") || !strings.Contains(body, `aria-invalid="true"`) {
		t.Fatalf("mismatch: %d %s", code, body)
	}
	code, body = pagePost(t, link, url.Values{"password": {"iloveyou"}, "confirm": {"iloveyou"}})
	if code != 422 || !strings.Contains(body, "most common passwords") {
		t.Fatalf("common password: %d %s", code, body)
	}
	code, body = pagePost(t, link, url.Values{"password": {"correct horse battery"}, "confirm": {"correct horse battery"}})
	if code != 200 || !strings.Contains(body, "Your account is active") {
		t.Fatalf("activate: %d %s", code, body)
	}
	// The link works once; the page says so and offers a new one without naming the account.
	code, body = pageGet(t, link)
	if code != http.StatusGone || !strings.Contains(body, "used already") || !strings.Contains(body, "Send me a new link") || strings.Contains(body, "grace@") {
		t.Fatalf("used link: %d %s", code, body)
	}
	code, body = pageGet(t, w.srv.URL+"/t/acme/activate/not-a-secret")
	if code != http.StatusGone || !strings.Contains(body, "not valid") {
		t.Fatalf("unknown link: %d %s", code, body)
	}
	code, _ = pageGet(t, w.srv.URL+"/t/nope/activate/x")
	if code != 404 {
		t.Fatalf("unknown tenant: %d", code)
	}
}

func TestActivationRequestRevealsNothing(t *testing.T) {
	w := newPagesWorld(t)
	w.invite(t, provision.AccountInput{Person: &provision.PersonInput{FirstName: "Ivy", LastName: "I", Email: "ivy@example.com"}})
	_, known := pagePost(t, w.srv.URL+"/t/acme/activate/request", url.Values{"identifier": {"ivy@example.com"}})
	_, unknown := pagePost(t, w.srv.URL+"/t/acme/activate/request", url.Values{"identifier": {"nobody@example.com"}})
	strip := func(s string) string {
		return strings.NewReplacer("ivy@example.com", "X", "nobody@example.com", "X").Replace(s)
	}
	if strip(known) != strip(unknown) || !strings.Contains(known, "Ask for your activation link") {
		t.Fatalf("the answers differ:\n%s\n---\n%s", known, unknown)
	}
}

func TestActivationByCodePage(t *testing.T) {
	w := newPagesWorld(t)
	c := w.invite(t, provision.AccountInput{Username: "sam.sms", Phone: "+46701112233", Person: &provision.PersonInput{FirstName: "Sam", LastName: "S"}})
	sms := c.Messages[0].Body
	m := regexp.MustCompile(`code: (\d{6})`).FindStringSubmatch(sms)
	if m == nil {
		t.Fatalf("no code in %q", sms)
	}
	code, body := pageGet(t, w.srv.URL+"/t/acme/activate")
	if code != 200 || !strings.Contains(body, `autocomplete="one-time-code"`) {
		t.Fatalf("code page: %d %s", code, body)
	}
	code, body = pagePost(t, w.srv.URL+"/t/acme/activate", url.Values{"identifier": {"+46 70 111 22 33"}, "code": {"000001"}, "password": {"my own passphrase"}, "confirm": {"my own passphrase"}})
	if code != 422 || !strings.Contains(body, "not right") {
		t.Fatalf("wrong code: %d %s", code, body)
	}
	code, body = pagePost(t, w.srv.URL+"/t/acme/activate", url.Values{"identifier": {"+46 70 111 22 33"}, "code": {m[1]}, "password": {"my own passphrase"}, "confirm": {"my own passphrase"}})
	if code != 200 || !strings.Contains(body, "Your account is active") {
		t.Fatalf("right code: %d %s", code, body)
	}
	// A one-time password set by an administrator, through the same page.
	c2 := w.invite(t, provision.AccountInput{Username: "olle", Phone: "+46701112244", Person: &provision.PersonInput{FirstName: "Olle", LastName: "O"}})
	otp, err := w.svc.SetOneTimePassword(context.Background(), usher.Actor{Kind: "token", Role: usher.AdminUser}, w.tenant, c2.Account.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	code, body = pagePost(t, w.srv.URL+"/t/acme/activate", url.Values{"identifier": {"olle"}, "code": {otp}, "password": {"olle's own passphrase"}, "confirm": {"olle's own passphrase"}})
	if code != 200 || !strings.Contains(body, "Your account is active") {
		t.Fatalf("one-time password: %d %s", code, body)
	}
}

// TestDeactivatedTenantRefusesTenantTokens: once an operator deactivates a
// tenant, its own tokens can no longer use the API; operators still can.
func TestDeactivatedTenantRefusesTenantTokens(t *testing.T) {
	w := newPagesWorld(t)
	ctx := context.Background()
	op := usher.Actor{Kind: "operator", ID: "test", Role: usher.PrincipalOperator}
	_, secret, err := w.tokens.CreateToken(ctx, op, w.tenant, apitoken.TokenInput{Name: "hr", Role: usher.AdminUser})
	if err != nil {
		t.Fatal(err)
	}
	get := func() int {
		req, _ := http.NewRequest("GET", w.srv.URL+"/api/v1/tenants/acme/accounts", nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get(); code != 200 {
		t.Fatalf("before: %d", code)
	}
	yes := true
	if _, err := w.svc.UpdateTenant(ctx, op, w.tenant.ID, provision.TenantUpdate{Deactivated: &yes}); err != nil {
		t.Fatal(err)
	}
	// The tenant cache keeps the old tenant for at most its TTL.
	deadline := time.Now().Add(cacheTTL + time.Second)
	for get() != http.StatusForbidden {
		if time.Now().After(deadline) {
			t.Fatalf("a deactivated tenant's token still works after %v", cacheTTL)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestHome: usher's own address leads to the only tenant's sign-in, or to
// the demo's; with several it says where tenants are and where operators
// sign in, naming no tenant.
func TestHome(t *testing.T) {
	onEachDatabaseOpen(t, func(t *testing.T, open func(testing.TB, func() time.Time) *store.Store) {
		w := newSigninWorld(t, open)
		b := w.browser(t)
		p := b.get("/")
		wantPage(t, p, 200, "Sign in")
		if p.url != w.url+"/t/acme/" {
			t.Fatalf("/ leads to %s, want the only tenant's sign-in", p.url)
		}
		w.newTenant(t, "other", "Other Corp")
		p = b.get("/")
		wantPage(t, p, 200, "Where to sign in", w.url+"/t/your-organization/", `<a href="/operator/">the operators' console</a>`, `<html lang="en">`)
		if strings.Contains(p.body, "Acme") || strings.Contains(p.body, "Other Corp") {
			t.Fatalf("usher's own page names its tenants:\n%s", p.body)
		}
		// A demo install leads to the demo, however many tenants there are.
		demo := newSigninWorld(t, open, func(c *Config) { c.Home = "acme" })
		demo.newTenant(t, "other", "Other Corp")
		if p := demo.browser(t).get("/"); p.url != demo.url+"/t/acme/" {
			t.Fatalf("/ on a demo install leads to %s", p.url)
		}
	})
}

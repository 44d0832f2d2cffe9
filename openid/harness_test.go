package openid_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/apitoken"
	"github.com/usherhq/usher/catalog"
	"github.com/usherhq/usher/egress"
	"github.com/usherhq/usher/openid"
	"github.com/usherhq/usher/openid/clients"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/secret"
	"github.com/usherhq/usher/signin"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/store/storetest"
	"github.com/usherhq/usher/web"
)

// The provider's tests run the real server (the shell, the people's pages,
// the provider) on a real store of each database, and speak to it as
// relying parties and browsers do.

const operatorSecret = "ush_test-operator-openid-secret"

var opActor = usher.Actor{Kind: usher.ActorOperator, ID: "test", Role: usher.PrincipalOperator}

// world is one running server with its own database and clock.
type world struct {
	url    string
	st     *store.Store
	svc    *provision.Service
	auth   *signin.Service
	oid    *openid.Provider
	box    *secret.Box
	key    []byte // box's
	srv    *web.Server
	clock  *storetest.Clock
	tenant usher.Tenant
	plan   usher.Plan
	logs   *lockedBuffer
	cfg    openid.Config
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// onEachDatabase runs fn on a fresh world per database, as the subtests
// "sqlite" and "postgres", in parallel.
func onEachDatabase(t *testing.T, fn func(t *testing.T, w *world)) {
	t.Helper()
	onEachDatabaseWith(t, openid.Config{}, fn)
}

// onEachDatabaseWith is onEachDatabase with the provider configured by cfg.
func onEachDatabaseWith(t *testing.T, cfg openid.Config, fn func(t *testing.T, w *world)) {
	t.Helper()
	opens := []struct {
		name string
		open func(testing.TB, func() time.Time) *store.Store
	}{{"sqlite", storetest.OpenSQLite}, {"postgres", storetest.OpenPostgres}}
	for _, db := range opens {
		t.Run(db.name, func(t *testing.T) {
			if db.name == "postgres" && storetest.PostgresURL() == "" {
				t.Skip("USHER_TEST_POSTGRES_URL is not set: the provider's suite did not run on PostgreSQL")
			}
			t.Parallel()
			fn(t, newWorld(t, db.open, cfg))
		})
	}
}

// newWorld starts a server with the provider on a store from open, and a
// tenant "acme" with a plan.
func newWorld(t *testing.T, open func(testing.TB, func() time.Time) *store.Store, cfg openid.Config) *world {
	t.Helper()
	clock := storetest.NewClock(time.Now().UTC().Truncate(time.Second))
	st := open(t, clock.Now)
	hs := httptest.NewUnstartedServer(nil)
	links := web.Links{PublicURL: "http://" + hs.Listener.Addr().String()}
	svc := provision.New(st, clock.Now, links)
	if err := apitoken.New(st, clock.Now).EnsureBootstrapToken(context.Background(), operatorSecret); err != nil {
		t.Fatal(err)
	}
	auth := signin.New(st, svc, clock.Now)
	key := make([]byte, secret.KeySize)
	rand.Read(key)
	box, err := secret.NewBox(key)
	if err != nil {
		t.Fatal(err)
	}
	// The guarded egress client, allowing this machine's addresses: clients'
	// jwks_uri and the tests' back-channel logout receivers are on loopback.
	oid, err := openid.New(openid.Deps{Store: st, Box: box, Clock: clock.Now, Config: cfg, Provision: svc, Signin: auth, HTTP: egress.Client(true, 10*time.Second),
		Issuer: func(tn usher.Tenant) string { return strings.TrimSuffix(links.TenantBase(tn), "/") }})
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	srv := web.New(slog.New(slog.NewTextHandler(logs, nil)), web.Config{Version: "test", Links: links, OpenID: oid}, st, svc, auth, clock.Now)
	hs.Config.Handler = srv
	hs.Start()
	t.Cleanup(hs.Close)
	t.Cleanup(func() {
		if strings.Contains(logs.String(), "level=ERROR") {
			t.Errorf("the server logged errors:\n%s", logs.String())
		}
	})
	w := &world{url: hs.URL, st: st, svc: svc, auth: auth, oid: oid, box: box, key: key, srv: srv, clock: clock, logs: logs, cfg: cfg}
	w.tenant, w.plan = w.newTenant(t, "acme")
	return w
}

// newTenant creates a tenant with a default plan of 50 seats.
func (w *world) newTenant(t *testing.T, slug string) (usher.Tenant, usher.Plan) {
	t.Helper()
	ctx := context.Background()
	tn, err := w.svc.CreateTenant(ctx, opActor, provision.TenantInput{Slug: slug, Name: strings.ToUpper(slug[:1]) + slug[1:]})
	if err != nil {
		t.Fatal(err)
	}
	seats, name := 50, "Standard"
	p, err := catalog.New(w.st, w.svc).CreatePlan(ctx, opActor, tn, catalog.PlanInput{Key: "std", Name: &name, Seats: &seats})
	if err != nil {
		t.Fatal(err)
	}
	set := tn.Settings
	set.DefaultPlanID = p.ID
	if tn, err = w.svc.UpdateTenant(ctx, opActor, tn.ID, provision.TenantUpdate{Settings: &set}); err != nil {
		t.Fatal(err)
	}
	return tn, p
}

func (w *world) issuer(tn usher.Tenant) string { return w.url + "/t/" + tn.Slug }

var linkRE = regexp.MustCompile(`http://\S+/activate/[A-Za-z0-9_-]+`)

// person creates an account in tn and activates it with pw by its link.
func (w *world) person(t *testing.T, tn usher.Tenant, in provision.AccountInput, pw string) usher.Account {
	t.Helper()
	ctx := context.Background()
	if in.Route == "" {
		in.Route = provision.RouteNewUser
	}
	actor := usher.Actor{Kind: usher.ActorToken, Role: usher.AdminUser}
	if in.AdminRole == usher.AdminTenant {
		actor = opActor // only operators grant it
	}
	c, err := w.svc.CreateAccount(ctx, actor, tn, in)
	if err != nil {
		t.Fatal(err)
	}
	var link string
	for _, m := range c.Messages {
		m, err := w.svc.Compose(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		if link = linkRE.FindString(m.Body); link != "" {
			break
		}
	}
	if link == "" {
		t.Fatalf("no activation link for %+v", in)
	}
	a, err := w.svc.ActivateWithLink(ctx, tn, link[strings.LastIndex(link, "/")+1:], pw, "", "test")
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// ada is an active account of acme with a role, groups and a department.
func (w *world) ada(t *testing.T) usher.Account {
	t.Helper()
	ctx := context.Background()
	attr := func(kind, key string) string {
		name := strings.ToUpper(key[:1]) + key[1:]
		a, err := catalog.New(w.st, w.svc).CreateAttribute(ctx, opActor, w.tenant, kind, catalog.AttributeInput{Key: key, Name: &name})
		if err != nil {
			t.Fatal(err)
		}
		return a.ID
	}
	role, eng, ops, dept := attr(usher.KindRole, "manager"), attr(usher.KindGroup, "engineering"), attr(usher.KindGroup, "operations"), attr(usher.KindDepartment, "research")
	return w.person(t, w.tenant, provision.AccountInput{Person: &provision.PersonInput{FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.com",
		DepartmentID: dept, Language: "en"}, RoleID: role, PrimaryGroupID: ops, GroupIDs: []string{eng, ops}, Phone: "+447700900123"},
		"analytical engine 1843")
}

// client registers a client of tn through the admin API, as an operator.
func (w *world) client(t *testing.T, tn usher.Tenant, in map[string]any) clients.CreatedClient {
	t.Helper()
	r := w.api(t, "POST", "/api/v1/tenants/"+tn.Slug+"/clients", in)
	if r.status != 201 {
		t.Fatalf("create client: %d %s", r.status, r.body)
	}
	var c clients.CreatedClient
	if err := json.Unmarshal([]byte(r.body), &c); err != nil {
		t.Fatal(err)
	}
	return c
}

type reply struct {
	status int
	body   string
	header http.Header
}

// api calls the admin API with the operator token.
func (w *world) api(t *testing.T, method, path string, body any) reply {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, w.url+path, rd)
	req.Header.Set("Authorization", "Bearer "+operatorSecret)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{status: resp.StatusCode, body: string(b), header: resp.Header}
}

// browser is a person's browser: it keeps cookies and follows redirects,
// but stops at a redirect to a relying party's callback (an address that
// does not start with the server's), which it hands to the test.
type browser struct {
	t *testing.T
	w *world
	c *http.Client
	// back is the last redirect to a relying party.
	back *url.URL
}

func (w *world) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	b := &browser{t: t, w: w}
	b.c = &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if !strings.HasPrefix(req.URL.String(), w.url) {
			b.back = req.URL
			return http.ErrUseLastResponse
		}
		return nil
	}}
	return b
}

type page struct {
	status int
	body   string
	url    string
}

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	b.back = nil
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, body: string(body), url: resp.Request.URL.String()}
}

func (b *browser) get(u string) page {
	b.t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	return b.do(req)
}

func (b *browser) post(u string, kv ...string) page {
	b.t.Helper()
	form := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		form.Add(kv[i], kv[i+1])
	}
	req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var nextRE = regexp.MustCompile(`name="next" value="([^"]+)"`)

// signIn answers the sign-in page p (reached from an authorization
// request) with identifier and password, and returns where the browser was
// sent back to the relying party.
func (b *browser) signIn(p page, tn usher.Tenant, identifier, pw string) *url.URL {
	b.t.Helper()
	m := nextRE.FindStringSubmatch(p.body)
	if p.status != 200 || m == nil {
		b.t.Fatalf("want the sign-in page with a next address, got %d at %s:\n%s", p.status, p.url, p.body)
	}
	next := strings.ReplaceAll(m[1], "&amp;", "&")
	base := b.w.issuer(tn)
	p = b.post(base+"/signin", "identifier", identifier, "next", next)
	if !strings.Contains(p.body, "Enter your password") {
		b.t.Fatalf("identifier step: %d\n%s", p.status, p.body)
	}
	b.post(base+"/signin/password", "identifier", identifier, "password", pw, "next", next)
	if b.back == nil {
		b.t.Fatalf("after signing in the browser was not sent back to the relying party")
	}
	return b.back
}

func wantParam(t *testing.T, u *url.URL, name, want string) {
	t.Helper()
	if got := u.Query().Get(name); got != want {
		t.Fatalf("%s: %s is %q, want %q", u, name, got, want)
	}
}

func must[T any](t testing.TB, v T, err error) T {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func jsonOf(t testing.TB, s string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, s)
	}
	return m
}

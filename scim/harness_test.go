package scim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/apitoken"
	"github.com/usherhq/usher/catalog"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/scim"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/store/storetest"
)

// The SCIM suite runs a real SCIM server on a real store, on both
// databases, and speaks to it over HTTP as Entra ID and Okta do.

var operator = usher.Actor{Kind: usher.ActorOperator, ID: "test-operator", Role: usher.PrincipalOperator}

// env is one server on a fresh database, with a tenant "acme", a plan of
// 20 seats as its default, and a SCIM token.
type env struct {
	t      testing.TB
	ctx    context.Context
	st     *store.Store
	svc    *provision.Service
	tokens *apitoken.Service
	url    string
	tn     usher.Tenant
	plan   usher.Plan
	token  string
	tok    usher.APIToken
	log    *lockedBuffer
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

type tenants struct{ st *store.Store }

func (t tenants) BySlug(ctx context.Context, slug string) (usher.Tenant, error) {
	return t.st.Read().TenantBySlug(ctx, slug)
}

// suite runs each case on a fresh server of the database open makes.
func suite(t *testing.T, open func(testing.TB) *store.Store, cases map[string]func(*testing.T, *env)) {
	for name, fn := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, newEnv(t, open))
		})
	}
}

func newEnv(t testing.TB, open func(testing.TB) *store.Store) *env {
	t.Helper()
	st := open(t)
	e := &env{t: t, ctx: context.Background(), st: st, log: &lockedBuffer{}}
	e.svc = provision.New(st, nil, storetest.Links{})
	e.tokens = apitoken.New(st, time.Now)
	var err error
	if e.tn, err = e.svc.CreateTenant(e.ctx, operator, provision.TenantInput{Slug: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	e.plan = e.newPlan(e.tn, "std", 20)
	e.setSettings(func(s *usher.TenantSettings) { s.DefaultPlanID = e.plan.ID })
	e.tok, e.token = e.scimToken(e.tn, "Entra ID")
	h := scim.New(scim.Deps{Log: slog.New(slog.NewTextHandler(e.log, nil)), Store: st, Provision: e.svc, Tenants: tenants{st}, Tokens: e.tokens,
		Base:     func(tn usher.Tenant) string { return "https://" + tn.Slug + ".example/" },
		ClientIP: func(r *http.Request) string { h, _, _ := net.SplitHostPort(r.RemoteAddr); return h }})
	mux := http.NewServeMux()
	mux.Handle("/t/{tenant}/scim/v2/", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	e.url = srv.URL
	t.Cleanup(func() {
		if strings.Contains(e.log.String(), "level=ERROR") {
			t.Errorf("the server logged errors:\n%s", e.log.String())
		}
	})
	return e
}

func (e *env) newPlan(tn usher.Tenant, key string, seats int) usher.Plan {
	e.t.Helper()
	name := strings.ToUpper(key[:1]) + key[1:]
	p, err := catalog.New(e.st, e.svc).CreatePlan(e.ctx, operator, tn, catalog.PlanInput{Key: key, Name: &name, Seats: &seats})
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) setSettings(change func(*usher.TenantSettings)) {
	e.t.Helper()
	s := e.tn.Settings
	change(&s)
	tn, err := e.svc.UpdateTenant(e.ctx, operator, e.tn.ID, provision.TenantUpdate{Settings: &s})
	if err != nil {
		e.t.Fatal(err)
	}
	e.tn = tn
}

func (e *env) scimToken(tn usher.Tenant, name string) (usher.APIToken, string) {
	e.t.Helper()
	tok, secret, err := e.tokens.CreateToken(e.ctx, operator, tn, apitoken.TokenInput{Name: name, Role: usher.PrincipalSCIM})
	if err != nil {
		e.t.Fatal(err)
	}
	return tok, secret
}

func (e *env) catalog(kind, name string) usher.Attribute {
	e.t.Helper()
	key := strings.ToLower(strings.ReplaceAll(name, " ", "-"))
	a, err := catalog.New(e.st, e.svc).CreateAttribute(e.ctx, operator, e.tn, kind, catalog.AttributeInput{Key: key, Name: &name})
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

// reply is a response, read whole.
type reply struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r reply) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("%d: not JSON: %v\n%s", r.Status, err, r.Body)
	}
	return m
}

// do sends a request to the tenant's SCIM base with the SCIM token;
// headers are name, value pairs ("Authorization", "" drops the token).
func (e *env) do(method, path string, body any, headers ...string) reply {
	e.t.Helper()
	return e.doAs(e.token, "/t/"+e.tn.Slug+"/scim/v2"+path, method, body, headers...)
}

func (e *env) doAs(token, path, method string, body any, headers ...string) reply {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	// The query is written plainly in the tests and encoded here.
	if p, q, ok := strings.Cut(path, "?"); ok {
		var parts []string
		for _, kv := range strings.Split(q, "&") {
			k, v, _ := strings.Cut(kv, "=")
			parts = append(parts, url.QueryEscape(k)+"="+url.QueryEscape(v))
		}
		path = p + "?" + strings.Join(parts, "&")
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// want checks a reply's status and returns its body.
func (e *env) want(r reply, status int) map[string]any {
	e.t.Helper()
	if r.Status != status {
		e.t.Fatalf("got %d, want %d: %s", r.Status, status, r.Body)
	}
	if len(r.Body) == 0 {
		return nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/scim+json" {
		e.t.Fatalf("Content-Type %q", ct)
	}
	return r.json(e.t)
}

// wantError checks a SCIM error: its status, scimType and that its detail
// holds each of words.
func (e *env) wantError(r reply, status int, scimType string, words ...string) {
	e.t.Helper()
	m := e.want(r, status)
	if m["status"] != itoa(status) || (scimType != "" && m["scimType"] != scimType) || (scimType == "" && m["scimType"] != nil) {
		e.t.Fatalf("got %v, want status %d scimType %q", m, status, scimType)
	}
	detail, _ := m["detail"].(string)
	for _, w := range words {
		if !strings.Contains(detail, w) {
			e.t.Fatalf("detail %q does not say %q", detail, w)
		}
	}
	if s, _ := m["schemas"].([]any); len(s) != 1 || s[0] != scim.URNError {
		e.t.Fatalf("an error's schemas: %v", m["schemas"])
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// obj is a JSON object to send.
type obj = map[string]any

// entraUser is a user as Entra ID creates one.
func entraUser(userName, given, family string) obj {
	return obj{
		"schemas":  []any{scim.URNUser, scim.URNEnterprise},
		"userName": userName, "active": true, "displayName": given + " " + family, "externalId": "ext-" + userName,
		"name":   obj{"givenName": given, "familyName": family, "formatted": given + " " + family},
		"emails": []any{obj{"primary": true, "type": "work", "value": userName}},
	}
}

// get reads a path of a document: "name.givenName", "emails.0.value".
func get(doc map[string]any, path string) any {
	var v any = doc
	for _, part := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[part]
		case []any:
			i := 0
			for _, c := range part {
				i = i*10 + int(c-'0')
			}
			if i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

// account reads an account directly, as usher has it.
func (e *env) account(id string) usher.Account {
	e.t.Helper()
	a, err := e.st.Read().Account(e.ctx, e.tn.ID, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

func (e *env) person(id string) usher.Person {
	e.t.Helper()
	p, err := e.st.Read().Person(e.ctx, e.tn.ID, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e *env) seatsUsed() int {
	e.t.Helper()
	p, err := e.st.Read().Plan(e.ctx, e.tn.ID, e.plan.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return p.SeatsUsed
}

var _ = time.Second

package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/apitoken"
	"github.com/usherhq/usher/internal/webtest"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/signin"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/store/storetest"
	"github.com/usherhq/usher/web/api"
)

// The API tests start the real server on a real store and speak to it with
// net/http only, as a client would.

// operatorSecret is the bootstrap operator token of every test server.
const operatorSecret = "ush_test-operator-bootstrap-secret"

// apiEnv is one running server with its own fresh database.
type apiEnv struct {
	url string
	srv *Server
	svc *provision.Service
	st  *store.Store
	op  string // the operator's bearer token
	log *lockedBuffer
}

// lockedBuffer collects the server's log, written from handler goroutines.
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

// database is a way to open a fresh store.
type database struct {
	name string
	open func(testing.TB) *store.Store
}

var databases = []database{
	{"sqlite", func(t testing.TB) *store.Store { return storetest.OpenSQLite(t, nil) }},
	// A fresh schema of USHER_TEST_POSTGRES_URL, dropped at the end.
	{"postgres", func(t testing.TB) *store.Store { return storetest.OpenPostgres(t, nil) }},
}

// onEachDatabase runs fn on a fresh server per database, as the subtests
// "sqlite" and "postgres", in parallel.
func onEachDatabase(t *testing.T, fn func(t *testing.T, e *apiEnv)) {
	t.Helper()
	for _, db := range databases {
		t.Run(db.name, func(t *testing.T) {
			if db.name == "postgres" && storetest.PostgresURL() == "" {
				t.Skip("USHER_TEST_POSTGRES_URL is not set: the API suite did not run on PostgreSQL " +
					"(set it to e.g. postgres://postgres@127.0.0.1:5432/usher_dev?sslmode=disable)")
			}
			t.Parallel()
			fn(t, newAPIEnv(t, db.open))
		})
	}
}

// newAPIEnv starts server.New on a store from open in an httptest.Server,
// with an operator token made by EnsureBootstrapToken, as cmd/usher does.
// The test fails if the server logged an error it did not expect.
func newAPIEnv(t testing.TB, open func(testing.TB) *store.Store) *apiEnv {
	t.Helper()
	st := open(t)
	hs := httptest.NewUnstartedServer(nil)
	links := Links{PublicURL: "http://" + hs.Listener.Addr().String()}
	svc := provision.New(st, nil, links)
	if err := apitoken.New(st, time.Now).EnsureBootstrapToken(context.Background(), operatorSecret); err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	auth := signin.New(st, svc, time.Now)
	srv := New(slog.New(slog.NewTextHandler(logs, nil)), Config{Version: "test", Links: links, OpenID: testOpenID(t, st, svc, auth, links)}, st, svc, auth, nil)
	hs.Config.Handler = srv
	hs.Start()
	t.Cleanup(hs.Close)
	e := &apiEnv{url: hs.URL, srv: srv, svc: svc, st: st, op: operatorSecret, log: logs}
	t.Cleanup(func() {
		if strings.Contains(logs.String(), "level=ERROR") {
			t.Errorf("the server logged errors:\n%s", logs.String())
		}
	})
	return e
}

// obj is a JSON object to send.
type obj = map[string]any

// reply is an HTTP response, read whole.
type reply struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r reply) String() string {
	return fmt.Sprintf("%d %s %s", r.Status, r.Header.Get("Content-Type"), bytes.TrimSpace(r.Body))
}

// rawBody is sent as it is, with Content-Type application/json unless a
// header says otherwise.
type rawBody string

// call sends one request. body is nil (no body), a rawBody, an io.Reader,
// or a value sent as JSON. headers are name, value pairs; a value "" removes
// the header.
func (e *apiEnv) call(t testing.TB, method, path, token string, body any, headers ...string) reply {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case rawBody:
		rd = strings.NewReader(string(b))
	case io.Reader:
		rd = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
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
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", method, path, err)
	}
	return reply{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// decodeStrict decodes one JSON value of exactly type T: an unknown field
// in a response is a failure too, so that a response leaking more than its
// type (a token's secret, say) is caught.
func decodeStrict[T any](t testing.TB, b []byte) T {
	t.Helper()
	var v T
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decoding %T: %v\n%s", v, err, b)
	}
	if dec.More() {
		t.Fatalf("decoding %T: trailing data\n%s", v, b)
	}
	return v
}

// ok checks the status and JSON content type of a successful reply and
// decodes its body as T.
func ok[T any](t testing.TB, r reply, status int) T {
	t.Helper()
	if r.Status != status {
		t.Fatalf("want %d, got %s", status, r)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("want Content-Type application/json, got %q (%s)", ct, r)
	}
	return decodeStrict[T](t, r.Body)
}

// get, post, patch, put and del are the usual calls, decoded as T with the
// expected status.
func get[T any](t testing.TB, e *apiEnv, token, path string) T {
	t.Helper()
	return ok[T](t, e.call(t, "GET", path, token, nil), 200)
}

func post[T any](t testing.TB, e *apiEnv, token, path string, body any, status int) T {
	t.Helper()
	return ok[T](t, e.call(t, "POST", path, token, body), status)
}

func patch[T any](t testing.TB, e *apiEnv, token, path string, body any) T {
	t.Helper()
	return ok[T](t, e.call(t, "PATCH", path, token, body), 200)
}

func put[T any](t testing.TB, e *apiEnv, token, path string, body any) T {
	t.Helper()
	return ok[T](t, e.call(t, "PUT", path, token, body), 200)
}

func del[T any](t testing.TB, e *apiEnv, token, path string) T {
	t.Helper()
	return ok[T](t, e.call(t, "DELETE", path, token, nil), 200)
}

// wantProblem checks an RFC 9457 problem: status, content type, type URI,
// title, code and the field named (or none when field is "").
func wantProblem(t testing.TB, r reply, status int, code, field string) api.Problem {
	t.Helper()
	if r.Status != status {
		t.Fatalf("want %d %s (field %q), got %s", status, code, field, r)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("want Content-Type application/problem+json, got %q (%s)", ct, r)
	}
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("a problem must not be cached: Cache-Control %q", cc)
	}
	p := decodeStrict[api.Problem](t, r.Body)
	if p.Type != "https://usher.dev/problems/"+code || p.Title == "" || p.Status != status || p.Code != code || p.Field != field {
		t.Fatalf("want type .../%s, a title, status %d, code %s, field %q; got %+v", code, status, code, field, p)
	}
	if status == http.StatusUnauthorized {
		if h := r.Header.Get("WWW-Authenticate"); !strings.HasPrefix(h, "Bearer ") {
			t.Fatalf("401 without a Bearer WWW-Authenticate challenge: %q", h)
		}
	}
	for i, pe := range p.Errors {
		if pe.Code == "" || pe.Detail == "" {
			t.Errorf("errors[%d] lacks a code or detail: %+v", i, pe)
		}
	}
	return p
}

// snapshot reads everything the tenants of slugs hold, through the API as
// the operator: comparing two snapshots tells whether a request changed
// anything. The audit log is part of it, so even a change that leaves the
// objects as they were but writes an event shows.
func (e *apiEnv) snapshot(t testing.TB, slugs ...string) string {
	t.Helper()
	var b strings.Builder
	read := func(path string) {
		r := e.call(t, "GET", path, e.op, nil)
		if r.Status != 200 {
			t.Fatalf("snapshot %s: %s", path, r)
		}
		fmt.Fprintf(&b, "%s\n%s\n", path, r.Body)
	}
	read("/api/v1/tenants?limit=500")
	read("/api/v1/tokens?limit=500")
	for _, slug := range slugs {
		for _, list := range []string{"organizations", "persons", "accounts", "plans", "roles", "departments", "job_profiles", "groups",
			"connections", "tokens", "audit-events", "messages"} {
			read("/api/v1/tenants/" + slug + "/" + list + "?limit=500")
		}
	}
	return b.String()
}

// unchanged fails when the state differs from the snapshot before.
func (e *apiEnv) unchanged(t testing.TB, before string, slugs ...string) {
	t.Helper()
	after := e.snapshot(t, slugs...)
	if after == before {
		return
	}
	bl, al := strings.Split(before, "\n"), strings.Split(after, "\n")
	where := ""
	for i := range min(len(bl), len(al)) {
		if strings.HasPrefix(bl[i], "/api/") {
			where = bl[i]
		}
		if bl[i] != al[i] {
			t.Fatalf("the request changed the state; first difference in %s:\nbefore: %s\nafter:  %s", where, bl[i], al[i])
		}
	}
	t.Fatalf("the request changed the state (%d lines before, %d after)", len(bl), len(al))
}

// knownBug reports a bug the test found; see webtest.KnownBug.
func knownBug(t testing.TB, format string, args ...any) {
	t.Helper()
	webtest.KnownBug(t, format, args...)
}

// onEachDatabaseOpen runs fn once per database, in parallel subtests "sqlite"
// and "postgres", with a function that opens a fresh store on a given clock.
func onEachDatabaseOpen(t *testing.T, fn func(t *testing.T, open func(testing.TB, func() time.Time) *store.Store)) {
	t.Helper()
	opens := map[string]func(testing.TB, func() time.Time) *store.Store{"sqlite": storetest.OpenSQLite, "postgres": storetest.OpenPostgres}
	for _, db := range databases {
		t.Run(db.name, func(t *testing.T) {
			if db.name == "postgres" && storetest.PostgresURL() == "" {
				t.Skip("USHER_TEST_POSTGRES_URL is not set: this suite did not run on PostgreSQL")
			}
			t.Parallel()
			fn(t, opens[db.name])
		})
	}
}

// written writes out messages stored as what they say, as the courier does
// before sending them.
func written(t testing.TB, svc *provision.Service, msgs []usher.Message) []usher.Message {
	t.Helper()
	out := make([]usher.Message, len(msgs))
	for i, m := range msgs {
		var err error
		if out[i], err = svc.Compose(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// Package web is the shell of usher's HTTP surface: routes.go lists every
// route of every audience (the JSON API, the pages people see, the
// consoles) and mounts them; the shell adds what all routes share:
// recovery, base-domain rewriting, the tenant and token caches,
// cross-origin protection and metrics, and serves health and readiness.
package web

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/apitoken"
	"github.com/usherhq/usher/catalog"
	"github.com/usherhq/usher/imports"
	"github.com/usherhq/usher/linked"
	"github.com/usherhq/usher/openid"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/secret"
	"github.com/usherhq/usher/signin"
	"github.com/usherhq/usher/signup"
	"github.com/usherhq/usher/sso"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/web/api"
	"github.com/usherhq/usher/web/view"
)

// Config is what the server needs to know about its deployment.
type Config struct {
	Version string
	// Links builds the addresses put into messages.
	Links Links
	// Channels are the message channels a provider delivers ("email",
	// "sms"); messages on the others stay queued, read in the console.
	Channels []string
	// OperatorToken says where this run's start-up operator token came
	// from: "printed" (made at start), "environment"
	// (USHER_BOOTSTRAP_OPERATOR_TOKEN), or "" (none this run).
	OperatorToken string
	// Home is the slug of the tenant usher's own address leads to (the
	// demo's); without it, the only tenant's, or a page that says where
	// tenants are.
	Home string
	// OpenID is the OpenID Connect provider, mounted per tenant when set.
	OpenID *openid.Provider
	// SSO signs people in through tenants' corporate SSO connections; New
	// makes one (without a key to seal SAML keys) when it is nil.
	SSO *sso.Service
	// ImportLimits bound an uploaded import (file size, rows); zero fields
	// take imports.DefaultLimits.
	ImportLimits imports.Limits
	// Linked keeps people's linked accounts in external systems (seed
	// 001's calendars); New makes one (without a key, without messages)
	// when it is nil.
	Linked *linked.Service
}

// Links builds public addresses; the audiences share it through view.
type Links = view.Links

// Server serves usher's HTTP surface.
type Server struct {
	log       *slog.Logger
	cfg       Config
	st        *store.Store
	svc       *provision.Service
	signup    *signup.Service
	apiTokens *apitoken.Service
	catalog   *catalog.Service
	auth      *signin.Service
	mux       *http.ServeMux
	ops       []*api.Op
	jsonAPI   *api.Handler
	metrics   *metrics
	tokens    *tokenCache
	tenants   *tenantCache
}

// cacheTTL bounds how long another replica's change to a token or tenant
// takes to reach this one.
const cacheTTL = 2 * time.Second

// New returns the server; its routes are in routes.go. auth signs people
// and operators in; now is the clock (time.Now when nil).
func New(log *slog.Logger, cfg Config, st *store.Store, svc *provision.Service, auth *signin.Service, now func() time.Time) *Server {
	if now == nil {
		now = time.Now
	}
	if cfg.SSO == nil {
		cfg.SSO = sso.New(st, nil, cfg.Links.TenantBase, now, nil)
		svc.CheckConnectionsWith(cfg.SSO.Prepare)
	}
	if cfg.Linked == nil {
		cfg.Linked = linked.New(linked.Deps{Store: st, Now: now, Base: cfg.Links.TenantBase, Log: log, Messages: linked.MessagesOf(svc)})
		svc.OnAccountEnded(cfg.Linked.AccountEnded)
	}
	apiTokens := apitoken.New(st, now)
	s := &Server{log: log, cfg: cfg, st: st, svc: svc, signup: signup.New(st, now), apiTokens: apiTokens, catalog: catalog.New(st, svc), auth: auth, mux: http.NewServeMux(), metrics: newMetrics(st),
		tokens:  &tokenCache{c: newTTLCache[usher.APIToken](cacheTTL, 10_000, now), svc: apiTokens, now: now},
		tenants: &tenantCache{c: newTTLCache[usher.Tenant](cacheTTL, 10_000, now), st: st}}
	s.routes(now)
	return s
}

// ServeHTTP recovers from panics in handlers, answering 500, refuses what
// no handler can read (see unreadable), and serves <slug>.<base domain>/x
// as /t/<slug>/x.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.ErrorContext(r.Context(), "panic", "method", r.Method, "route", r.Pattern, "panic", p)
			s.jsonAPI.Error(w, r, errors.New("panic"))
		}
	}()
	if e := unreadable(w, r); e != nil {
		s.refuseUnreadable(w, r, e)
		return
	}
	if s.cfg.Links.BaseDomain != "" {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if slug, ok := strings.CutSuffix(strings.ToLower(host), "."+s.cfg.Links.BaseDomain); ok && slug != "" && !strings.Contains(slug, ".") {
			if !strings.HasPrefix(r.URL.Path, "/api/") && !strings.HasPrefix(r.URL.Path, "/t/") && r.URL.Path != "/healthz" && r.URL.Path != "/readyz" && r.URL.Path != "/metrics" {
				r.URL.Path = "/t/" + slug + r.URL.Path
				r.URL.RawPath = ""
			}
		}
	}
	s.mux.ServeHTTP(w, r)
}

// tenantCache reads tenants by slug through the per-replica cache.
type tenantCache struct {
	c  *ttlCache[usher.Tenant] // by slug
	st *store.Store
}

func (t *tenantCache) BySlug(ctx context.Context, slug string) (usher.Tenant, error) {
	if tn, ok := t.c.get(slug); ok {
		return tn, nil
	}
	tn, err := t.st.Read().TenantBySlug(ctx, slug)
	if err != nil {
		return tn, err
	}
	t.c.put(slug, tn)
	return tn, nil
}

func (t *tenantCache) Forget(slug string) {
	t.c.forget(func(k string, _ usher.Tenant) bool { return k == slug })
}

// tokenCache authenticates API tokens through the per-replica cache; a
// cached token past its expiry is read again.
type tokenCache struct {
	c   *ttlCache[usher.APIToken] // by hash of the secret
	svc *apitoken.Service
	now func() time.Time
}

func (t *tokenCache) Authenticate(ctx context.Context, bearer string) (usher.APIToken, error) {
	key := secret.Hash(bearer)
	tok, ok := t.c.get(key)
	if ok && (tok.ExpiresAt == nil || tok.ExpiresAt.After(t.now())) {
		return tok, nil
	}
	tok, err := t.svc.Authenticate(ctx, bearer)
	if err != nil {
		return tok, err
	}
	t.c.put(key, tok)
	return tok, nil
}

func (t *tokenCache) Forget(id string) {
	t.c.forget(func(_ string, tok usher.APIToken) bool { return tok.ID == id })
}

// metrics holds the Prometheus collectors of one server.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(st *store.Store) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "usher_http_requests_total", Help: "HTTP requests by route and status."}, []string{"route", "code"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "usher_http_request_duration_seconds", Help: "HTTP request latency by route.",
		Buckets: []float64{.0002, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}}, []string{"route"})
	m.reg.MustRegister(m.requests, m.duration, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "usher_db_open_connections", Help: "Open connections of the writer pool."},
			func() float64 { return float64(st.Stats().OpenConnections) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "usher_db_wait_seconds_total", Help: "Time spent waiting for a writer connection."},
			func() float64 { return st.Stats().WaitDuration.Seconds() }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "usher_db_grouped_writes_total",
			Help: "Writes (account creations) PostgreSQL committed in a transaction shared with others."},
			func() float64 { g, _ := st.GroupStats(); return float64(g) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "usher_db_group_reruns_total",
			Help: "Writes run again alone because their shared transaction failed (a conflict, a full plan)."},
			func() float64 { _, r := st.GroupStats(); return float64(r) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "usher_db_writer_transactions_total",
			Help: "Transactions the writers committed: SQLite's single writer's batches, PostgreSQL's lanes' groups of creations."},
			func() float64 { return float64(st.WriterStats().Batches) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "usher_db_writer_writes_total",
			Help: "Writes those transactions committed."},
			func() float64 { return float64(st.WriterStats().Writes) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "usher_db_writer_busy_seconds_total",
			Help: "Time the writers were taken by a transaction, rolled back ones included; on SQLite its rate is the share of time the one writer worked."},
			func() float64 { return st.WriterStats().Busy.Seconds() }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "usher_db_writer_commit_seconds_total",
			Help: "Time in COMMIT: on SQLite part of the busy time; on PostgreSQL only COMMITs sent apart from a group's statements, awaited while the lane goes on."},
			func() float64 { return st.WriterStats().Commit.Seconds() }))
	return m
}

func (m *metrics) instrument(route string, h http.Handler) http.Handler {
	dur := m.duration.WithLabelValues(route)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: 200}
		h.ServeHTTP(sw, r)
		dur.Observe(time.Since(start).Seconds())
		m.requests.WithLabelValues(route, strconv.Itoa(sw.status)).Inc()
	})
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// handleHealth answers liveness: the process serves HTTP.
func handleHealth() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		api.WriteJSON(w, 200, map[string]string{"status": "ok"})
	})
}

// handleReady answers readiness: the database answers within a second.
func handleReady(st *store.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		if err := st.Ping(ctx); err != nil {
			api.WriteJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "database": "not answering"})
			return
		}
		api.WriteJSON(w, 200, map[string]string{"status": "ready", "database": string(st.Dialect())})
	})
}

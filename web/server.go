// Package web is usher's HTTP surface: the admin API, health and
// metrics, wired in routes.go. Handlers translate HTTP to calls of the
// provisioning service and back; they hold no rules of their own.
package web

import (
	"context"
	"errors"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/signin"
	"github.com/usherhq/usher/store"
)

// Config is what the server needs to know about its deployment.
type Config struct {
	Version string
	// Links builds the addresses put into messages.
	Links Links
}

// Server serves usher's HTTP surface.
type Server struct {
	log     *slog.Logger
	cfg     Config
	st      *store.Store
	svc     *provision.Service
	auth    *signin.Service
	mux     *http.ServeMux
	ops     []*op
	metrics *metrics
	now     func() time.Time
	tokens  *ttlCache[usher.APIToken] // by hash of the secret
	tenants *ttlCache[usher.Tenant]   // by slug
}

// cacheTTL bounds how long another replica's change to a token or tenant
// takes to reach this one.
const cacheTTL = 2 * time.Second

// New returns the server; its routes are in routes.go.
func New(log *slog.Logger, cfg Config, st *store.Store, svc *provision.Service, auth *signin.Service, now func() time.Time) *Server {
	if now == nil {
		now = time.Now
	}
	s := &Server{log: log, cfg: cfg, st: st, svc: svc, auth: auth, mux: http.NewServeMux(), metrics: newMetrics(st), now: now,
		tokens: newTTLCache[usher.APIToken](cacheTTL, 10_000, now), tenants: newTTLCache[usher.Tenant](cacheTTL, 10_000, now)}
	s.routes()
	return s
}

// ServeHTTP recovers from panics in handlers, answering 500.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.ErrorContext(r.Context(), "panic", "method", r.Method, "route", r.Pattern, "panic", p)
			writeError(w, r, s.log, errors.New("panic"))
		}
	}()
	if s.cfg.Links.BaseDomain != "" {
		// <slug>.<base domain>/x is served as /t/<slug>/x.
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

// access says who may call an operation.
type access int

const (
	public       access = iota // no token
	operatorOnly               // operator tokens
	tenantScoped               // operator tokens, or tokens of the tenant in the path
)

// op is one API operation: its route, who may call it, its documentation
// and its handler. Every API route is an op, so the OpenAPI document and the
// mux cannot disagree.
type op struct {
	method, path string
	summary      string
	access       access
	minRole      string   // documented; the provisioning service enforces
	params       []string // query parameters
	in           any      // request body type, nil for none
	optionalBody bool     // the body may be left out
	out          any      // response body type, nil for none
	produces     []string // content types of a non-JSON success response; the handler returns a rawResponse
	status       int      // success status
	handle       func(r *http.Request, c *call) (any, error)
}

// rawResponse is a success response that is not JSON, such as an image.
type rawResponse struct {
	contentType string
	filename    string // offered to save it as; "" for none
	body        []byte
}

func (b rawResponse) write(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", b.contentType)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if b.filename != "" {
		w.Header().Set("Content-Disposition", mime.FormatMediaType("inline", map[string]string{"filename": b.filename}))
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(b.body)))
	w.WriteHeader(status)
	_, _ = w.Write(b.body)
}

// api registers an op on the mux behind authentication and metrics.
func (s *Server) api(o *op) {
	if o.status == 0 {
		o.status = http.StatusOK
	}
	s.ops = append(s.ops, o)
	pattern := o.method + " " + o.path
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := s.authenticate(r, o)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		out, err := o.handle(r, c)
		if err != nil {
			writeError(w, r, s.log, err)
			return
		}
		if o.status == http.StatusNoContent {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if raw, ok := out.(rawResponse); ok {
			raw.write(w, o.status)
			return
		}
		writeJSON(w, o.status, out)
	})
	s.mux.Handle(pattern, s.metrics.instrument(pattern, h))
}

// authenticate checks the bearer token against the op's access and, on
// tenant routes, resolves the tenant. A tenant token used on another
// tenant's path finds "not found", as if the tenant did not exist.
func (s *Server) authenticate(r *http.Request, o *op) (*call, error) {
	c := &call{actor: provision.Actor{Source: clientIP(r)}}
	if o.access == public {
		return c, nil
	}
	auth := r.Header.Get("Authorization")
	scheme, secret, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || secret == "" {
		return nil, &usher.Error{Code: usher.CodeUnauthorized, Field: "Authorization", Message: "send an API token as 'Authorization: Bearer <token>'"}
	}
	secret = strings.TrimSpace(secret)
	key := provision.HashSecret(secret)
	tok, ok := s.tokens.get(key)
	if ok && tok.ExpiresAt != nil && !tok.ExpiresAt.After(s.now()) {
		ok = false
	}
	if !ok {
		var err error
		if tok, err = s.svc.Authenticate(r.Context(), secret); err != nil {
			if errors.Is(err, usher.ErrUnauthorized) {
				return nil, &usher.Error{Code: usher.CodeUnauthorized, Field: "Authorization", Message: "the token is unknown, revoked or expired"}
			}
			return nil, err
		}
		s.tokens.put(key, tok)
	}
	c.token = tok
	c.actor.ID, c.actor.Role = tok.ID, tok.Role
	c.actor.Kind = "token"
	if tok.Role == usher.PrincipalOperator {
		c.actor.Kind = "operator"
	}
	if o.access == operatorOnly && tok.Role != usher.PrincipalOperator {
		return nil, usher.Forbidden("this needs an operator token")
	}
	if o.access == tenantScoped {
		tn, err := s.tenantBySlug(r.Context(), r.PathValue("tenant"))
		if err != nil {
			return nil, err
		}
		if tok.TenantID != "" && tok.TenantID != tn.ID {
			return nil, usher.NotFound("tenant", "tenant")
		}
		if tn.DeactivatedAt != nil && tok.Role != usher.PrincipalOperator {
			return nil, usher.Forbidden("the tenant is deactivated; only operators may use its API")
		}
		c.tenant = tn
	}
	return c, nil
}

// tenantBySlug reads a tenant through the per-replica cache.
func (s *Server) tenantBySlug(ctx context.Context, slug string) (usher.Tenant, error) {
	if tn, ok := s.tenants.get(slug); ok {
		return tn, nil
	}
	tn, err := s.st.Read().TenantBySlug(ctx, slug)
	if err != nil {
		return tn, err
	}
	s.tenants.put(slug, tn)
	return tn, nil
}

func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Links builds public addresses: https://<slug>.<base domain>/ when a base
// domain is set, <public URL>/t/<slug>/ otherwise.
type Links struct {
	BaseDomain string // "example.com"
	PublicURL  string // "http://localhost:8080", used without a base domain
}

func (l Links) tenantBase(t usher.Tenant) string {
	if l.BaseDomain != "" {
		return "https://" + t.Slug + "." + l.BaseDomain + "/"
	}
	return strings.TrimSuffix(l.PublicURL, "/") + "/t/" + t.Slug + "/"
}

// Activation implements provision.Links. The secret is in the path, so the
// page works without scripts; usher never logs request paths, and its pages
// send no Referer.
func (l Links) Activation(t usher.Tenant, secret string) string {
	return l.tenantBase(t) + "activate/" + secret
}

// SignIn implements provision.Links.
func (l Links) SignIn(t usher.Tenant) string { return l.tenantBase(t) }

// SignUp is the address of a sign-up link, served by the registration page.
// The code is not a secret, so it may sit in the path of a printed QR code.
func (l Links) SignUp(t usher.Tenant, code string) string {
	return l.tenantBase(t) + "join/" + code
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
			func() float64 { _, r := st.GroupStats(); return float64(r) }))
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
		writeJSON(w, 200, map[string]string{"status": "ok"})
	})
}

// handleReady answers readiness: the database answers within a second.
func handleReady(st *store.Store) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		if err := st.Ping(ctx); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "database": "not answering"})
			return
		}
		writeJSON(w, 200, map[string]string{"status": "ready", "database": string(st.Dialect())})
	})
}

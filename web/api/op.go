// Package api is usher's JSON admin API: each operation is an Op, listed
// in the shell's routes.go, from which the mux and the OpenAPI document
// are both made; errors are RFC 9457 problem details; bodies and queries
// are decoded strictly. Handlers translate HTTP to calls of the
// provisioning service and back; they hold no rules of their own.
package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/apitoken"
	"github.com/usherhq/usher/catalog"
	"github.com/usherhq/usher/imports"
	"github.com/usherhq/usher/linked"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/signup"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/web/view"
)

// Access says who may call an operation.
type Access int

const (
	Public       Access = iota // no token
	OperatorOnly               // operator tokens
	TenantScoped               // operator tokens, or tokens of the tenant in the path
)

// Op is one API operation: its route, who may call it, its documentation
// and its handler. Every API route is an Op, so the OpenAPI document and
// the mux cannot disagree.
type Op struct {
	Method, Path string
	Summary      string
	Access       Access
	MinRole      string   // documented; the provisioning service enforces
	Params       []string // query parameters
	// Enums are the values of the query parameters that take a fixed few,
	// the default first when the parameter has one.
	Enums map[string][]string
	In    any // request body type, nil for none
	// Accepts are the content types of a body that is a file, not JSON;
	// the handler reads it. "multipart/form-data" means the part "file".
	Accepts      []string
	OptionalBody bool // the body may be left out
	// ReadOnly are members of In's type that the server sets (an id, its
	// times): a body that sends one is refused, and the request schema
	// leaves them out.
	ReadOnly []string
	Out      any      // response body type, nil for none
	Produces []string // content types of a non-JSON success response; the handler returns a view.File
	Status   int      // success status; 200 when 0
	// Also are other success statuses of the operation and their body
	// types; the handler answers them with an Answer.
	Also map[int]any
	// Timeout, when set, replaces the server's read and write timeouts
	// for the operation: an upload and its import take longer.
	Timeout time.Duration
	Handle  func(r *http.Request, c *Call) (any, error)
}

// Tokens authenticates bearer secrets, through the shell's per-replica cache.
type Tokens interface {
	// Authenticate returns usher.ErrUnauthorized for an unknown, revoked or expired secret.
	Authenticate(ctx context.Context, secret string) (usher.APIToken, error)
	// Forget drops a token revoked through this replica.
	Forget(id string)
}

// Handler serves the API's operations.
type Handler struct {
	log       *slog.Logger
	st        *store.Store
	svc       *provision.Service
	signup    *signup.Service
	apiTokens *apitoken.Service
	catalog   *catalog.Service
	links     view.Links
	tenants   view.Tenants
	tokens    Tokens
	version   string
	// importLimits bound an uploaded import (imports.DefaultLimits when zero).
	importLimits imports.Limits
	linked       *linked.Service
}

// Deps are what the API needs.
type Deps struct {
	Log       *slog.Logger
	Store     *store.Store
	Provision *provision.Service
	Signup    *signup.Service
	APITokens *apitoken.Service
	Catalog   *catalog.Service
	Links     view.Links
	Tenants   view.Tenants
	Tokens    Tokens
	Version   string // of the OpenAPI document
	// ImportLimits bound an uploaded import; zero fields take the defaults.
	ImportLimits imports.Limits
	// Linked hands products their people's linked accounts' access tokens.
	Linked *linked.Service
}

// New returns the API's handler.
func New(d Deps) *Handler {
	return &Handler{log: d.Log, st: d.Store, svc: d.Provision, signup: d.Signup, apiTokens: d.APITokens, catalog: d.Catalog, links: d.Links, tenants: d.Tenants, tokens: d.Tokens, version: d.Version,
		importLimits: d.ImportLimits, linked: d.Linked}
}

// Serve answers o behind authentication.
func (h *Handler) Serve(o *Op) http.Handler {
	if o.Status == 0 {
		o.Status = http.StatusOK
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o.Timeout > 0 {
			rc := http.NewResponseController(w)
			_ = rc.SetReadDeadline(time.Now().Add(o.Timeout))
			_ = rc.SetWriteDeadline(time.Now().Add(o.Timeout))
		}
		if len(o.ReadOnly) > 0 {
			r = r.WithContext(context.WithValue(r.Context(), readOnlyKey{}, o.ReadOnly))
		}
		c, err := h.authenticate(r, o)
		if err != nil {
			h.Error(w, r, err)
			return
		}
		out, err := o.Handle(r, c)
		if err != nil {
			h.Error(w, r, err)
			return
		}
		if o.Status == http.StatusNoContent {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if f, ok := out.(view.File); ok {
			f.Write(w, o.Status)
			return
		}
		if a, ok := out.(Answer); ok {
			WriteJSON(w, a.Status, a.Body)
			return
		}
		WriteJSON(w, o.Status, out)
	})
}

// Answer is a handler's answer with one of its Op's Also statuses.
type Answer struct {
	Status int
	Body   any
}

// NotFound answers a path under /api/ that is no operation.
func (h *Handler) NotFound(w http.ResponseWriter, r *http.Request) {
	h.Error(w, r, &usher.Error{Code: usher.CodeNotFound, Field: "path", Message: "there is no API operation " + r.Method + " " + r.URL.Path + "; /api/v1/openapi.json lists them"})
}

// Call is what authentication established about a request.
type Call struct {
	actor  usher.Actor
	token  usher.APIToken
	tenant usher.Tenant // set on tenant routes
}

// authenticate checks the bearer token against the op's access and, on
// tenant routes, resolves the tenant. A tenant token used on another
// tenant's path finds "not found", as if the tenant did not exist.
func (h *Handler) authenticate(r *http.Request, o *Op) (*Call, error) {
	c := &Call{actor: usher.Actor{Source: view.ClientIP(r)}}
	if o.Access == Public {
		return c, nil
	}
	auth := r.Header.Get("Authorization")
	scheme, secret, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || secret == "" {
		return nil, &usher.Error{Code: usher.CodeUnauthorized, Field: "Authorization", Message: "send an API token as 'Authorization: Bearer <token>'"}
	}
	tok, err := h.tokens.Authenticate(r.Context(), strings.TrimSpace(secret))
	if err != nil {
		if errors.Is(err, usher.ErrUnauthorized) {
			return nil, &usher.Error{Code: usher.CodeUnauthorized, Field: "Authorization", Message: "the token is unknown, revoked or expired"}
		}
		return nil, err
	}
	if tok.Role == usher.PrincipalSCIM {
		return nil, usher.Forbidden("a token of role scim reaches only its tenant's SCIM endpoint (/scim/v2), not the admin API")
	}
	c.token = tok
	c.actor.ID, c.actor.Role = tok.ID, tok.Role
	c.actor.Kind = "token"
	if tok.Role == usher.PrincipalOperator {
		c.actor.Kind = "operator"
	}
	if o.Access == OperatorOnly && tok.Role != usher.PrincipalOperator {
		return nil, usher.Forbidden("this needs an operator token")
	}
	if o.Access == TenantScoped {
		tn, err := h.tenants.BySlug(r.Context(), r.PathValue("tenant"))
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

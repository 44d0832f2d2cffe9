// Package scim is usher's SCIM 2.0 server (RFC 7643, 7644), one per tenant
// at /t/<tenant>/scim/v2 (or <tenant>.<base domain>/scim/v2), for the
// provisioning sources Microsoft Entra ID and Okta. It owns the wire types,
// the filter and PATCH handling, the SCIM errors and its token check; it
// reads through the store and changes the directory only through
// provision, one call per change.
package scim

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/internal/ttlcache"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/store"
)

// Tenants resolves a tenant by its slug.
type Tenants interface {
	BySlug(ctx context.Context, slug string) (usher.Tenant, error)
}

// Tokens authenticates bearer secrets.
type Tokens interface {
	Authenticate(ctx context.Context, secret string) (usher.APIToken, error)
}

// Deps are what the SCIM server needs.
type Deps struct {
	Log       *slog.Logger
	Store     *store.Store
	Provision *provision.Service
	Tenants   Tenants
	Tokens    Tokens
	// Base is the public address of a tenant's pages, ending in "/"; the
	// SCIM base is Base + "scim/v2".
	Base func(usher.Tenant) string
	// ClientIP is the address a request came from, for the audit.
	ClientIP func(*http.Request) string
}

// Handler serves SCIM for every tenant.
type Handler struct {
	log      *slog.Logger
	st       *store.Store
	svc      *provision.Service
	tenants  Tenants
	tokens   Tokens
	base     func(usher.Tenant) string
	clientIP func(*http.Request) string
	plans    *planCache
	attrs    *attrCache
}

// New returns the SCIM handler; mount it at /t/{tenant}/scim/v2/.
func New(d Deps) *Handler {
	return &Handler{log: d.Log, st: d.Store, svc: d.Provision, tenants: d.Tenants, tokens: d.Tokens, base: d.Base, clientIP: d.ClientIP,
		plans: ttlcache.New[string, map[string]usher.Plan](namesTTL), attrs: ttlcache.New[string, usher.Attribute](namesTTL)}
}

// call is what authentication established about a request.
type call struct {
	tn    usher.Tenant
	actor usher.Actor
	base  string // the tenant's SCIM base address, without a trailing /
	// patchResource: the source wants a successful PATCH answered with
	// 200 and the resource rather than 204.
	patchResource bool
}

// patchStatus is the status of a successful PATCH: 200 with the resource
// when the source asked for it in its settings, or when the request names
// attributes (RFC 7644 §3.5.2 requires it then); 204 otherwise.
func (c call) patchStatus(r *http.Request) int {
	if c.patchResource || r.URL.Query().Has("attributes") || r.URL.Query().Has("excludedAttributes") {
		return http.StatusOK
	}
	return http.StatusNoContent
}

// ServeHTTP answers a SCIM request. Resource endpoints are matched without
// case: clients write /Users and /users.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	slug := r.PathValue("tenant")
	rest := strings.TrimPrefix(r.URL.Path, "/t/"+slug+"/scim/v2")
	parts := strings.Split(strings.Trim(rest, "/"), "/")
	c, err := h.authenticate(r, slug)
	if err != nil {
		h.writeError(w, r, nil, err)
		return
	}
	resource, id := strings.ToLower(parts[0]), ""
	if len(parts) > 1 {
		id = parts[1]
	}
	if len(parts) > 2 {
		h.writeError(w, r, nil, notFound("there is no SCIM endpoint %s", rest))
		return
	}
	m := r.Method
	if resource == "groups" && m != http.MethodGet {
		// A group's change may rename or end it: what this request answers
		// and what the next ones read is read afresh. (A user's change
		// renames no entry; the entries it creates are new.)
		h.attrs.Forget(c.tn.ID)
		defer h.attrs.Forget(c.tn.ID)
	}
	switch {
	case resource == "users" && id == "" && m == http.MethodGet:
		h.listUsers(w, r, c)
	case resource == "users" && id == "" && m == http.MethodPost:
		h.createUser(w, r, c)
	case resource == "users" && id != "" && m == http.MethodGet:
		h.getUser(w, r, c, id)
	case resource == "users" && id != "" && m == http.MethodPut:
		h.replaceUser(w, r, c, id)
	case resource == "users" && id != "" && m == http.MethodPatch:
		h.patchUser(w, r, c, id)
	case resource == "users" && id != "" && m == http.MethodDelete:
		h.deleteUser(w, r, c, id)
	case resource == "groups" && id == "" && m == http.MethodGet:
		h.listGroups(w, r, c)
	case resource == "groups" && id == "" && m == http.MethodPost:
		h.createGroup(w, r, c)
	case resource == "groups" && id != "" && m == http.MethodGet:
		h.getGroup(w, r, c, id)
	case resource == "groups" && id != "" && m == http.MethodPut:
		h.replaceGroup(w, r, c, id)
	case resource == "groups" && id != "" && m == http.MethodPatch:
		h.patchGroup(w, r, c, id)
	case resource == "groups" && id != "" && m == http.MethodDelete:
		h.deleteGroup(w, r, c, id)
	case (resource == "serviceproviderconfig" || resource == "serviceconfiguration") && id == "" && m == http.MethodGet:
		writeJSON(w, http.StatusOK, serviceProviderConfig(c.base))
	case resource == "resourcetypes" && m == http.MethodGet:
		h.resourceTypes(w, r, c, id)
	case resource == "schemas" && m == http.MethodGet:
		h.schemas(w, r, c, id)
	case resource == "users" || resource == "groups" || resource == "serviceproviderconfig" || resource == "serviceconfiguration" ||
		resource == "resourcetypes" || resource == "schemas":
		w.Header().Set("Allow", allowed(resource, id))
		h.writeError(w, r, nil, errorf(http.StatusMethodNotAllowed, "", "%s %s is not supported; %s are", m, rest, allowed(resource, id)))
	default:
		h.writeError(w, r, nil, notFound("there is no SCIM endpoint %s; there are /Users, /Groups, /ServiceProviderConfig, /ResourceTypes and /Schemas", rest))
	}
}

func allowed(resource, id string) string {
	switch {
	case (resource == "users" || resource == "groups") && id == "":
		return "GET, POST"
	case resource == "users" || resource == "groups":
		return "GET, PUT, PATCH, DELETE"
	}
	return "GET"
}

// authenticate checks the bearer token: one of role scim, of this tenant.
// Another tenant's token finds no tenant here, as in the admin API.
func (h *Handler) authenticate(r *http.Request, slug string) (call, error) {
	scheme, secret, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(secret) == "" {
		return call{}, &Error{Status: http.StatusUnauthorized, Detail: "Authorization: send the tenant's SCIM token as 'Authorization: Bearer <token>'"}
	}
	tok, err := h.tokens.Authenticate(r.Context(), strings.TrimSpace(secret))
	if err != nil {
		if usher.ErrorCode(err) == usher.CodeUnauthorized || usher.ErrorCode(err) == usher.CodeNotFound {
			return call{}, &Error{Status: http.StatusUnauthorized, Detail: "Authorization: the token is unknown, revoked or expired"}
		}
		return call{}, err
	}
	if tok.Role != usher.PrincipalSCIM {
		return call{}, &Error{Status: http.StatusForbidden, Detail: "Authorization: SCIM takes a tenant token of role scim (POST …/tokens with {\"role\":\"scim\"}); this token is for the admin API"}
	}
	tn, err := h.tenants.BySlug(r.Context(), slug)
	if err != nil && usher.ErrorCode(err) != usher.CodeNotFound {
		return call{}, err
	}
	if err != nil || tn.ID != tok.TenantID {
		return call{}, notFound("there is no tenant %q", slug)
	}
	if tn.DeactivatedAt != nil {
		return call{}, &Error{Status: http.StatusForbidden, Detail: "the tenant is deactivated"}
	}
	return call{tn: tn, actor: usher.Actor{Kind: usher.ActorSCIM, ID: tok.ID, Source: h.clientIP(r)},
		base: strings.TrimSuffix(h.base(tn), "/") + "/scim/v2", patchResource: tok.PatchResponse == usher.PatchResource}, nil
}

func (h *Handler) resourceTypes(w http.ResponseWriter, r *http.Request, c call, id string) {
	types := resourceTypesJSON(c.base)
	if id == "" {
		writeJSON(w, http.StatusOK, listResponse(types, len(types), 1))
		return
	}
	for _, t := range types {
		if strings.EqualFold(t.(map[string]any)["id"].(string), id) {
			writeJSON(w, http.StatusOK, t)
			return
		}
	}
	h.writeError(w, r, nil, notFound("there is no resource type %q; there are User and Group", id))
}

func (h *Handler) schemas(w http.ResponseWriter, r *http.Request, c call, id string) {
	var out []any
	for _, s := range allSchemas {
		if id == "" || strings.EqualFold(s.ID, id) {
			out = append(out, schemaJSON(s, c.base))
		}
	}
	switch {
	case id == "":
		writeJSON(w, http.StatusOK, listResponse(out, len(out), 1))
	case len(out) == 1:
		writeJSON(w, http.StatusOK, out[0])
	default:
		h.writeError(w, r, nil, notFound("there is no schema %q", id))
	}
}

// listResponse is a ListResponse message of one page.
func listResponse(resources []any, total, start int) map[string]any {
	if resources == nil {
		resources = []any{}
	}
	return map[string]any{"schemas": []string{URNList}, "totalResults": total, "startIndex": start,
		"itemsPerPage": len(resources), "Resources": resources}
}

package api

import (
	"net/http"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/openid"
	"github.com/usherhq/usher/openid/clients"
	"github.com/usherhq/usher/openid/keys"
	"github.com/usherhq/usher/store"
)

// The OpenID Connect provider's clients and signing keys of a tenant. The
// provider holds the rules and writes the audit events.

// noProvider answers on a server started without the provider.
var noProvider = &usher.Error{Code: usher.CodeInternal, Message: "this server runs without the OpenID Connect provider"}

func (h *Handler) ListClients(oid *openid.Provider) func(*http.Request, *Call) (any, error) {
	return func(r *http.Request, c *Call) (any, error) {
		if oid == nil {
			return nil, noProvider
		}
		q := newQuery(r, "active")
		active := q.boolean("active")
		o := q.list()
		if err := q.err(); err != nil {
			return nil, err
		}
		return paged(oid.Clients().Clients(r.Context(), c.actor, c.tenant, active, o))
	}
}

func (h *Handler) CreateClient(oid *openid.Provider) func(*http.Request, *Call) (any, error) {
	return func(r *http.Request, c *Call) (any, error) {
		if oid == nil {
			return nil, noProvider
		}
		var in clients.ClientInput
		if err := decode(r, &in); err != nil {
			return nil, err
		}
		return oid.Clients().CreateClient(r.Context(), c.actor, c.tenant, in)
	}
}

func (h *Handler) GetClient(oid *openid.Provider) func(*http.Request, *Call) (any, error) {
	return func(r *http.Request, c *Call) (any, error) {
		if oid == nil {
			return nil, noProvider
		}
		return oid.Clients().Client(r.Context(), c.actor, c.tenant, r.PathValue("id"))
	}
}

func (h *Handler) UpdateClient(oid *openid.Provider) func(*http.Request, *Call) (any, error) {
	return func(r *http.Request, c *Call) (any, error) {
		if oid == nil {
			return nil, noProvider
		}
		var in clients.ClientInput
		if err := decode(r, &in); err != nil {
			return nil, err
		}
		return oid.Clients().UpdateClient(r.Context(), c.actor, c.tenant, r.PathValue("id"), in)
	}
}

func (h *Handler) DeleteClient(oid *openid.Provider) func(*http.Request, *Call) (any, error) {
	return func(r *http.Request, c *Call) (any, error) {
		if oid == nil {
			return nil, noProvider
		}
		return oid.Clients().DeleteClient(r.Context(), c.actor, c.tenant, r.PathValue("id"))
	}
}

func (h *Handler) ListSigningKeys(oid *openid.Provider) func(*http.Request, *Call) (any, error) {
	return func(r *http.Request, c *Call) (any, error) {
		if oid == nil {
			return nil, noProvider
		}
		if err := c.actor.Require(usher.AdminTenant); err != nil {
			return nil, err
		}
		ks, err := oid.SigningKeys().Keys(r.Context(), c.tenant)
		return List[keys.KeyInfo]{Items: ks}, err
	}
}

func (h *Handler) RotateSigningKeys(oid *openid.Provider) func(*http.Request, *Call) (any, error) {
	return func(r *http.Request, c *Call) (any, error) {
		if oid == nil {
			return nil, noProvider
		}
		ks, err := oid.SigningKeys().RotateKeys(r.Context(), c.actor, c.tenant)
		return List[keys.KeyInfo]{Items: ks}, err
	}
}

func (h *Handler) ListLogoutDeliveries(oid *openid.Provider) func(*http.Request, *Call) (any, error) {
	return func(r *http.Request, c *Call) (any, error) {
		if oid == nil {
			return nil, noProvider
		}
		q := newQuery(r, "state")
		f := store.LogoutFilter{State: q.oneOf("state", LogoutStates...)}
		o := q.list()
		if err := q.err(); err != nil {
			return nil, err
		}
		return paged(oid.BackChannel().LogoutDeliveries(r.Context(), c.actor, c.tenant, r.PathValue("id"), f, o))
	}
}

// LogoutStates are the states of a back-channel logout delivery.
var LogoutStates = []string{store.LogoutQueued, store.LogoutDelivered, store.LogoutAbandoned}

func (h *Handler) RetryLogoutDelivery(oid *openid.Provider) func(*http.Request, *Call) (any, error) {
	return func(r *http.Request, c *Call) (any, error) {
		if oid == nil {
			return nil, noProvider
		}
		return oid.BackChannel().RetryLogoutDelivery(r.Context(), c.actor, c.tenant, r.PathValue("id"), r.PathValue("event"))
	}
}

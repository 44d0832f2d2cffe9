package api

import (
	"errors"
	"net/http"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/linked"
	"github.com/usherhq/usher/store"
)

// LinkToken is a linked account's access token for a product.
type LinkToken struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	// ExpiresAt is when the provider said the token expires; absent when
	// it did not say.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// LinkToken gives a product a fresh access token of an authorized link.
// The token is not logged.
func (h *Handler) LinkToken(r *http.Request, c *Call) (any, error) {
	if err := c.actor.Require(usher.AdminUser); err != nil {
		return nil, err
	}
	tok, exp, err := h.linked.Token(r.Context(), c.tenant, r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	out := LinkToken{AccessToken: tok, TokenType: "Bearer"}
	if !exp.IsZero() {
		out.ExpiresAt = &exp
	}
	return out, nil
}

// External systems a tenant's people link their accounts in, and the
// links (package linked holds the rules and writes the audit events).
// Client secrets are write-only; tokens never leave through these.

func (h *Handler) ListExternalSystems(r *http.Request, c *Call) (any, error) {
	if err := c.actor.Require(usher.AdminUser); err != nil {
		return nil, err
	}
	q := newQuery(r, "active")
	active := q.boolean("active")
	o := q.list()
	if err := q.err(); err != nil {
		return nil, err
	}
	xs, next, err := h.st.Read().ExternalSystems(r.Context(), c.tenant.ID, active, o)
	for i := range xs {
		xs[i].ClientSecret = ""
	}
	return paged(xs, next, err)
}

func (h *Handler) SaveExternalSystem(r *http.Request, c *Call) (any, error) {
	var in linked.ExternalSystemInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	return h.linked.SaveExternalSystem(r.Context(), c.actor, c.tenant, r.PathValue("id"), in)
}

func (h *Handler) GetExternalSystem(r *http.Request, c *Call) (any, error) {
	if err := c.actor.Require(usher.AdminUser); err != nil {
		return nil, err
	}
	return h.linked.ExternalSystem(r.Context(), c.tenant, r.PathValue("id"))
}

func (h *Handler) DeactivateExternalSystem(r *http.Request, c *Call) (any, error) {
	if err := c.actor.Require(usher.AdminTenant); err != nil {
		return nil, err
	}
	x, err := h.linked.ExternalSystem(r.Context(), c.tenant, r.PathValue("id"))
	if err != nil {
		return nil, err
	}
	return h.linked.SaveExternalSystem(r.Context(), c.actor, c.tenant, x.ID, linked.ExternalSystemInput{ExternalSystem: x, Deactivated: &yes})
}

// LinkSuggestions are the accounts without a live link to an external
// system, each with the login it likely has there.
func (h *Handler) LinkSuggestions(r *http.Request, c *Call) (any, error) {
	if err := c.actor.Require(usher.AdminUser); err != nil {
		return nil, err
	}
	// Another tenant's system, or none, is not found (not a field's fault).
	if _, err := h.linked.ExternalSystem(r.Context(), c.tenant, r.PathValue("id")); err != nil {
		return nil, err
	}
	s, err := h.linked.Suggest(r.Context(), c.actor, c.tenant, r.PathValue("id"))
	if s == nil {
		s = []store.LinkSuggestion{}
	}
	return List[store.LinkSuggestion]{Items: s}, err
}

// AccountLinkInput links one account, named in the path.
type AccountLinkInput struct {
	ExternalSystemID string `json:"external_system_id"`
	// Login is the account in the external system, usually the work email.
	Login string `json:"login"`
}

func (h *Handler) LinkAccount(r *http.Request, c *Call) (any, error) {
	var in AccountLinkInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	return h.linked.Link(r.Context(), c.actor, c.tenant, linked.LinkInput{AccountID: r.PathValue("id"), ExternalSystemID: in.ExternalSystemID, Login: in.Login})
}

// LinksInput links many accounts at once.
type LinksInput struct {
	Links []linked.LinkInput `json:"links"`
}

// LinkResult is the outcome of one item of LinksInput, in its order: the
// link made, or the problem that refused it.
type LinkResult struct {
	Link  *usher.Link `json:"link,omitempty"`
	Error *Problem    `json:"error,omitempty"`
}

// maxLinks bounds one request of LinkMany.
const maxLinks = 500

func (h *Handler) LinkMany(r *http.Request, c *Call) (any, error) {
	if err := c.actor.Require(usher.AdminUser); err != nil {
		return nil, err
	}
	var in LinksInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	switch {
	case len(in.Links) == 0:
		return nil, usher.Invalid("links", "name at least one account to link")
	case len(in.Links) > maxLinks:
		return nil, usher.Invalid("links", "at most %d at once", maxLinks)
	}
	rows := h.linked.LinkMany(r.Context(), c.actor, c.tenant, in.Links)
	out := make([]LinkResult, len(rows))
	for i, row := range rows {
		if row.Err == nil {
			out[i].Link = &row.Link
			continue
		}
		var ue *usher.Error
		if !errors.As(row.Err, &ue) || ue.Code == usher.CodeInternal {
			h.log.ErrorContext(r.Context(), "internal error", "method", r.Method, "route", r.Pattern, "item", i, "err", row.Err)
			ue = &usher.Error{Code: usher.CodeInternal, Message: "something went wrong on our side; it has been logged"}
		}
		p := problemFor(ue)
		p.Type = "https://usher.dev/problems/" + p.Code
		out[i].Error = &p
	}
	return List[LinkResult]{Items: out}, nil
}

func (h *Handler) ListLinks(r *http.Request, c *Call) (any, error) {
	if err := c.actor.Require(usher.AdminUser); err != nil {
		return nil, err
	}
	q := newQuery(r, "state", "account_id", "external_system_id")
	f := store.LinkFilter{
		State:            q.oneOf("state", LinkStates...),
		AccountID:        q.str("account_id"),
		ExternalSystemID: q.str("external_system_id"),
	}
	o := q.list()
	if err := q.err(); err != nil {
		return nil, err
	}
	return paged(h.linked.Links(r.Context(), c.tenant, f, o))
}

// LinkStates are the states a link may be in.
var LinkStates = []string{usher.LinkPending, usher.LinkAuthorized, usher.LinkReauthorize, usher.LinkRevoked, usher.LinkUnlinked}

func (h *Handler) GetLink(r *http.Request, c *Call) (any, error) {
	if err := c.actor.Require(usher.AdminUser); err != nil {
		return nil, err
	}
	return h.linked.GetLink(r.Context(), c.tenant, r.PathValue("id"))
}

func (h *Handler) Unlink(r *http.Request, c *Call) (any, error) {
	return h.linked.Unlink(r.Context(), c.actor, c.tenant, r.PathValue("id"))
}

// The tenant's webhook for link events: its address, and its signing
// secret, which is answered when made or rotated and never again.

func (h *Handler) GetLinkWebhook(r *http.Request, c *Call) (any, error) {
	return h.linked.Webhook(r.Context(), c.actor, c.tenant)
}

func (h *Handler) SaveLinkWebhook(r *http.Request, c *Call) (any, error) {
	var in linked.WebhookInput
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	return h.linked.SaveWebhook(r.Context(), c.actor, c.tenant, in)
}

func (h *Handler) DeleteLinkWebhook(r *http.Request, c *Call) (any, error) {
	return nil, h.linked.DeleteWebhook(r.Context(), c.actor, c.tenant)
}

func (h *Handler) RotateLinkWebhookSecret(r *http.Request, c *Call) (any, error) {
	return h.linked.RotateWebhookSecret(r.Context(), c.actor, c.tenant)
}

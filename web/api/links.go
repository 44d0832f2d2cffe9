package api

import (
	"net/http"
	"time"

	"github.com/usherhq/usher"
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

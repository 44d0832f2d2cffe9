package signin

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/secret"
	"github.com/usherhq/usher/store"
)

// Operators sign in to their console with an operator API token: usher
// has no operator accounts, and the token (a bootstrap one on a first
// install) is what an operator already holds. The session stands for the
// token and ends when the token is revoked or expires.

// Operator sessions are short: operators can do everything.
const (
	operatorIdle = 30 * time.Minute
	operatorMax  = 8 * time.Hour
	operatorID   = "operator:" // identity_id of an operator session: the token's id follows
)

// ErrNotOperator: the token is unknown, revoked, expired or not an operator's.
var ErrNotOperator = &usher.Error{Code: usher.CodeUnauthorized, Field: "token", Message: "this is not a valid operator token"}

// OperatorSignIn opens an operator session with an operator token's
// secret. Attempts count against the source address like password guesses.
func (s *Service) OperatorSignIn(ctx context.Context, token, source, userAgent string) (string, error) {
	token = strings.TrimSpace(token)
	if token == "" {
		return "", usher.Invalid("token", "paste an operator token")
	}
	c := claim{source: sourceKey(source)}
	if err := s.reserve(ctx, c); err != nil {
		return "", err
	}
	tok, err := s.tokens.Authenticate(ctx, token)
	if errors.Is(err, usher.ErrUnauthorized) || (err == nil && tok.Role != usher.PrincipalOperator) {
		if err := s.failed(ctx, c); err != nil {
			return "", err
		}
		return "", ErrNotOperator
	} else if err != nil {
		return "", err
	}
	cookie, hash := secret.New()
	ses := usher.Session{IdentityID: operatorID + tok.ID, Method: "operator", Source: source, UserAgent: clip(userAgent, 300)}
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		if err := tx.InsertSession(ctx, &ses, hash); err != nil {
			return err
		}
		return c.settle(ctx, tx)
	})
	return cookie, err
}

// OperatorSession returns the token behind an operator session's cookie.
func (s *Service) OperatorSession(ctx context.Context, cookie string) (usher.APIToken, error) {
	if cookie == "" || len(cookie) > 100 {
		return usher.APIToken{}, ErrNoSession
	}
	r := s.st.Read()
	ses, err := r.SessionByHash(ctx, secret.Hash(cookie))
	if errors.Is(err, usher.ErrNotFound) {
		return usher.APIToken{}, ErrNoSession
	} else if err != nil {
		return usher.APIToken{}, err
	}
	id, ok := strings.CutPrefix(ses.IdentityID, operatorID)
	if !ok {
		return usher.APIToken{}, ErrNoSession
	}
	now := s.now()
	tok, err := r.Token(ctx, id)
	if err != nil && !errors.Is(err, usher.ErrUnauthorized) {
		return tok, err
	}
	if err != nil || tok.RevokedAt != nil || (tok.ExpiresAt != nil && !tok.ExpiresAt.After(now)) ||
		now.Sub(ses.LastSeenAt) > operatorIdle || now.Sub(ses.CreatedAt) > operatorMax {
		_ = s.st.Write(ctx, func(tx *store.Tx) error { return tx.DeleteSession(ctx, ses.IdentityID, ses.ID) })
		return usher.APIToken{}, ErrNoSession
	}
	if now.Sub(ses.LastSeenAt) > touchEvery {
		if err := s.st.Write(ctx, func(tx *store.Tx) error { return tx.TouchSession(ctx, ses.ID) }); err != nil {
			return tok, err
		}
	}
	return tok, nil
}

package openid

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	httphelper "github.com/zitadel/oidc/v3/pkg/http"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/usherhq/usher/openid/clients"
	"github.com/usherhq/usher/secret"
)

// discovery serves the library's discovery document, corrected to what
// usher offers: the code flow only (the library always lists implicit),
// the query response mode, S256 only, and RFC 9207's iss.
func (p *Provider) discovery(w http.ResponseWriter, r *http.Request) {
	rs := stateOf(r.Context())
	cfg := op.CreateDiscoveryConfig(op.ContextWithIssuer(r.Context(), rs.issuer), p.op, &storage{p})
	cfg.ResponseTypesSupported = []string{string(oidc.ResponseTypeCode)}
	cfg.ResponseModesSupported = []string{string(oidc.ResponseModeQuery)}
	cfg.GrantTypesSupported = []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken, oidc.GrantTypeClientCredentials}
	cfg.CodeChallengeMethodsSupported = []oidc.CodeChallengeMethod{oidc.CodeChallengeMethodS256}
	cfg.DeviceAuthorizationEndpoint, cfg.CheckSessionIframe = "", ""
	// What client assertions may be signed with (package clients holds keys to it).
	cfg.TokenEndpointAuthSigningAlgValuesSupported = clients.AssertionAlgs
	cfg.IntrospectionEndpointAuthSigningAlgValuesSupported = clients.AssertionAlgs
	cfg.RevocationEndpointAuthSigningAlgValuesSupported = clients.AssertionAlgs
	cfg.RequestObjectSigningAlgValuesSupported = nil
	b, err := json.Marshal(cfg)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	doc := map[string]any{}
	if err := json.Unmarshal(b, &doc); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	doc["authorization_response_iss_parameter_supported"] = true
	doc["request_parameter_supported"] = false
	doc["claims_parameter_supported"] = false
	// The sid claim is in ID tokens and logout tokens; see logout.go.
	doc["backchannel_logout_supported"] = true
	doc["backchannel_logout_session_supported"] = true
	doc["frontchannel_logout_supported"] = true
	doc["frontchannel_logout_session_supported"] = true
	w.Header().Set("Cache-Control", "public, max-age=300")
	httphelper.MarshalJSON(w, doc)
}

// token is the token endpoint: the library's, for the grants usher offers.
func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	switch r.PostForm.Get("grant_type") {
	case string(oidc.GrantTypeCode), string(oidc.GrantTypeRefreshToken), string(oidc.GrantTypeClientCredentials), "":
		// A refused client assertion is a failed client authentication
		// (RFC 6749's invalid_client); the library would answer
		// invalid_grant, so the assertion is checked here first.
		if a := r.PostForm.Get("client_assertion"); a != "" {
			if _, err := op.VerifyJWTAssertion(r.Context(), a, p.op.JWTProfileVerifier(r.Context())); err != nil {
				var oe *oidc.Error
				if errors.As(err, &oe) && oe.ErrorType == oidc.ServerError {
					op.RequestError(w, r, oe, nil) // usher's fault, not the client's
					return
				}
				op.RequestError(w, r, oidc.ErrInvalidClient().WithDescription("the client assertion was refused: %s", assertionRefusal(err)).WithParent(err), nil)
				return
			}
		}
		op.Exchange(w, r, p.op)
	default:
		op.RequestError(w, r, oidc.ErrUnsupportedGrantType().WithDescription("usher offers authorization_code, refresh_token and client_credentials"), nil)
	}
}

// introspect is RFC 7662's endpoint for an authenticated client of the
// tenant. The library introspects access tokens; refresh tokens (which it
// does not know) are answered here. The answer of an access token carries
// its own claims.
func (p *Provider) introspect(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	ctx := r.Context()
	rs := stateOf(ctx)
	token := r.PostForm.Get("token")
	if strings.Count(token, ".") == 2 {
		rec := &introspection{ResponseWriter: w}
		op.Introspect(rec, r, p.op)
		rec.finish(token)
		return
	}
	_, clientID, err := op.ParseTokenIntrospectionRequest(r, p.op)
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	resp := &oidc.IntrospectionResponse{}
	rr, err := (&storage{p}).TokenRequestByRefreshToken(ctx, token)
	if err == nil {
		req := rr.(*refreshRequest)
		if req.grant.ClientID == clientID && p.activeAccount(ctx, rs, req.grant.AccountID) == nil {
			resp.Active, resp.ClientID, resp.Subject, resp.Scope = true, clientID, req.grant.AccountID, req.scopes
			resp.TokenType, resp.Issuer, resp.AuthTime = "refresh_token", rs.issuer, oidc.FromTime(req.grant.AuthTime)
			if rt, err := p.st.Read().RefreshTokenByHash(ctx, rs.tenant.ID, secret.Hash(token)); err == nil {
				resp.Expiration, resp.IssuedAt = oidc.FromTime(rt.ExpiresAt), oidc.FromTime(rt.CreatedAt)
			}
		}
	}
	httphelper.MarshalJSON(w, resp)
}

// introspection completes the library's answer for an active access token
// with the claims the token carries (scope, client_id, exp, iat, aud, iss,
// auth_time and usher's claims), which the library cannot see.
type introspection struct {
	http.ResponseWriter
	status int
	body   []byte
}

func (i *introspection) WriteHeader(code int) { i.status = code }
func (i *introspection) Write(b []byte) (int, error) {
	i.body = append(i.body, b...)
	return len(b), nil
}

func (i *introspection) finish(token string) {
	if i.status == 0 {
		i.status = http.StatusOK
	}
	var answer map[string]any
	if i.status == http.StatusOK && json.Unmarshal(i.body, &answer) == nil && answer["active"] == true {
		if claims, err := payload(token); err == nil {
			for k, v := range claims {
				if _, ok := answer[k]; !ok {
					answer[k] = v
				}
			}
			answer["token_type"] = "Bearer"
			if b, err := json.Marshal(answer); err == nil {
				i.body = b
			}
		}
	}
	i.ResponseWriter.WriteHeader(i.status)
	i.ResponseWriter.Write(i.body)
}

// payload is the claims of a JWT the library has verified.
func payload(token string) (map[string]any, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a JWT")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, err
	}
	var out map[string]any
	return out, json.Unmarshal(b, &out)
}

// assertionRefusal says what was wrong with a client assertion, in the
// words of RFC 7523's checks.
func assertionRefusal(err error) string {
	switch {
	case errors.Is(err, errAssertionReplayed):
		return "its jti was used before (an assertion works once)"
	case errors.Is(err, errAssertionNoJTI):
		return "it has no jti (of at most 200 characters), which makes it usable once"
	case errors.Is(err, errNotKeyClient):
		return "the client does not authenticate with private_key_jwt"
	case errors.Is(err, clients.ErrRemoteKeys):
		return "the keys at the client's jwks_uri could not be read"
	case errors.Is(err, oidc.ErrAudience):
		return "its aud is not this issuer"
	case errors.Is(err, oidc.ErrExpired):
		return "it has expired"
	case errors.Is(err, oidc.ErrIatToOld), errors.Is(err, oidc.ErrIatInFuture), errors.Is(err, oidc.ErrIatMissing):
		return "its iat is missing, in the future or more than an hour old"
	case errors.Is(err, oidc.ErrSubjectInvalid):
		return "its iss and sub must both be the client_id"
	case errors.Is(err, oidc.ErrSignatureInvalid), errors.Is(err, oidc.ErrSignatureUnsupportedAlg):
		return "its signature does not verify with a key of the client (kid and alg must match one of its registered keys)"
	}
	return "it cannot be read as a signed JWT"
}

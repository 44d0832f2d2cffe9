// Command relyingparty is a small product that signs its users in through
// usher's OpenID Connect provider, with the authorization code flow and
// PKCE, and shows what it received: the ID token's claims, userinfo, the
// access token's claims. It refreshes its tokens and signs out through
// usher. It uses github.com/coreos/go-oidc and golang.org/x/oauth2, as a
// Go product would; everything it knows about usher is the issuer's
// discovery document.
//
//	go run ./examples/relyingparty --issuer http://localhost:8080/t/demo \
//	    --client-id … --client-secret …
//
// and open http://localhost:9090/. Register the client with the redirect
// URI http://<addr>/callback and the post-logout URI http://<addr>/; with
// the back-channel logout URI http://<addr>/backchannel-logout, a sign-out
// anywhere in usher ends the product's session too.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "relyingparty:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	fs := flag.NewFlagSet("relyingparty", flag.ContinueOnError)
	issuer := fs.String("issuer", getenv("RP_ISSUER"), "the tenant's issuer, e.g. http://localhost:8080/t/demo (RP_ISSUER)")
	clientID := fs.String("client-id", getenv("RP_CLIENT_ID"), "the client_id usher gave (RP_CLIENT_ID)")
	secret := fs.String("client-secret", getenv("RP_CLIENT_SECRET"), "its client_secret (RP_CLIENT_SECRET)")
	addr := fs.String("addr", "localhost:9090", "address to listen on; the redirect URI is http://<addr>/callback")
	scopes := fs.String("scopes", "openid profile email phone usher offline_access", "scopes to ask for")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *issuer == "" || *clientID == "" {
		return errors.New("--issuer and --client-id are required")
	}
	provider, err := oidc.NewProvider(ctx, *issuer)
	if err != nil {
		return fmt.Errorf("discovery at %s: %w", *issuer, err)
	}
	var extra struct {
		EndSession string `json:"end_session_endpoint"`
	}
	if err := provider.Claims(&extra); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	base := "http://" + *addr
	a := &app{
		issuer:     *issuer,
		provider:   provider,
		endSession: extra.EndSession,
		base:       base,
		cfg: oauth2.Config{ClientID: *clientID, ClientSecret: *secret, Endpoint: provider.Endpoint(),
			RedirectURL: base + "/callback", Scopes: strings.Fields(*scopes)},
		verifier: provider.Verifier(&oidc.Config{ClientID: *clientID}),
		pending:  map[string]pending{},
		sessions: map[string]*session{},
	}
	srv := &http.Server{Handler: a.routes(), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "example product listening on %s (issuer %s)\n", base, *issuer)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdown)
}

// app is the product: its sessions live in memory, which is enough for an
// example.
type app struct {
	issuer, endSession, base string
	provider                 *oidc.Provider
	cfg                      oauth2.Config
	verifier                 *oidc.IDTokenVerifier

	mu       sync.Mutex
	pending  map[string]pending // by state
	sessions map[string]*session
}

// pending is an authorization request on its way: its state, nonce and
// PKCE verifier.
type pending struct {
	nonce, verifier string
	at              time.Time
}

// session is a signed-in user of the product.
type session struct {
	token    *oauth2.Token
	idToken  string
	claims   map[string]any
	userinfo map[string]any
	note     string
	// sub and sid name the person and their usher session, for
	// back-channel logout.
	sub string
}

func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("POST /login", a.login)
	mux.HandleFunc("GET /callback", a.callback)
	mux.HandleFunc("POST /refresh", a.refresh)
	mux.HandleFunc("POST /logout", a.logout)
	mux.HandleFunc("POST /backchannel-logout", a.backchannelLogout)
	return mux
}

func random() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (a *app) session(r *http.Request) *session {
	c, err := r.Cookie("rp_session")
	if err != nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.sessions[c.Value]
}

func (a *app) login(w http.ResponseWriter, r *http.Request) {
	state, p := random(), pending{nonce: random(), verifier: oauth2.GenerateVerifier(), at: time.Now()}
	a.mu.Lock()
	for s, old := range a.pending {
		if time.Since(old.at) > 10*time.Minute {
			delete(a.pending, s)
		}
	}
	a.pending[state] = p
	a.mu.Unlock()
	http.Redirect(w, r, a.cfg.AuthCodeURL(state, oidc.Nonce(p.nonce), oauth2.S256ChallengeOption(p.verifier)), http.StatusSeeOther)
}

// callback checks the answer (its state, and RFC 9207's iss), exchanges
// the code with the PKCE verifier, verifies the ID token and its nonce,
// and reads userinfo.
func (a *app) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	a.mu.Lock()
	p, ok := a.pending[q.Get("state")]
	delete(a.pending, q.Get("state"))
	a.mu.Unlock()
	switch {
	case !ok:
		a.page(w, http.StatusBadRequest, "Sign-in failed", nil, "This answer does not belong to a sign-in started here.")
		return
	case q.Get("iss") != a.issuer:
		a.page(w, http.StatusBadRequest, "Sign-in failed", nil, "The answer does not come from the issuer this product trusts (iss).")
		return
	case q.Get("error") != "":
		a.page(w, http.StatusOK, "Not signed in", nil, "usher answered "+q.Get("error")+": "+q.Get("error_description"))
		return
	}
	tok, err := a.cfg.Exchange(r.Context(), q.Get("code"), oauth2.VerifierOption(p.verifier))
	if err != nil {
		a.page(w, http.StatusBadGateway, "Sign-in failed", nil, "The code exchange failed: "+err.Error())
		return
	}
	s, err := a.verify(r.Context(), tok, p.nonce)
	if err != nil {
		a.page(w, http.StatusBadGateway, "Sign-in failed", nil, err.Error())
		return
	}
	id := random()
	a.mu.Lock()
	a.sessions[id] = s
	a.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "rp_session", Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (a *app) verify(ctx context.Context, tok *oauth2.Token, nonce string) (*session, error) {
	raw, _ := tok.Extra("id_token").(string)
	idt, err := a.verifier.Verify(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("the ID token does not verify: %w", err)
	}
	if nonce != "" && idt.Nonce != nonce {
		return nil, errors.New("the ID token's nonce is not this sign-in's")
	}
	s := &session{token: tok, idToken: raw, sub: idt.Subject}
	if err := idt.Claims(&s.claims); err != nil {
		return nil, err
	}
	ui, err := a.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return nil, fmt.Errorf("userinfo: %w", err)
	}
	if err := ui.Claims(&s.userinfo); err != nil {
		return nil, err
	}
	return s, nil
}

// refresh uses the refresh token: usher rotates it.
func (a *app) refresh(w http.ResponseWriter, r *http.Request) {
	s := a.session(r)
	if s == nil || s.token.RefreshToken == "" {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	old := *s.token
	old.Expiry = time.Now().Add(-time.Minute) // make the source refresh
	tok, err := a.cfg.TokenSource(r.Context(), &old).Token()
	if err != nil {
		a.page(w, http.StatusOK, "Refresh refused", s, "usher refused the refresh token: "+err.Error())
		return
	}
	ns, err := a.verify(r.Context(), tok, "")
	if err != nil {
		a.page(w, http.StatusBadGateway, "Refresh failed", s, err.Error())
		return
	}
	ns.note = "Tokens refreshed: usher gave a new refresh token; the old one no longer works."
	a.mu.Lock()
	*s = *ns
	a.mu.Unlock()
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// logout ends the product's session and asks usher to end its own
// (RP-initiated logout), coming back here.
func (a *app) logout(w http.ResponseWriter, r *http.Request) {
	s := a.session(r)
	if c, err := r.Cookie("rp_session"); err == nil {
		a.mu.Lock()
		delete(a.sessions, c.Value)
		a.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: "rp_session", Value: "", Path: "/", MaxAge: -1})
	if s == nil || a.endSession == "" {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	q := url.Values{"id_token_hint": {s.idToken}, "post_logout_redirect_uri": {a.base + "/"}, "client_id": {a.cfg.ClientID}}
	http.Redirect(w, r, a.endSession+"?"+q.Encode(), http.StatusSeeOther)
}

func (a *app) home(w http.ResponseWriter, r *http.Request) {
	s := a.session(r)
	if s == nil {
		a.page(w, http.StatusOK, "Example product", nil, "")
		return
	}
	name, _ := s.claims["name"].(string)
	if name == "" {
		name, _ = s.claims["sub"].(string)
	}
	a.page(w, http.StatusOK, "Signed in as "+name, s, s.note)
	s.note = ""
}

// accessClaims decodes the access token's payload; a product would verify
// it against the JWKS first (usher's are RFC 9068 JWTs).
func accessClaims(tok string) map[string]any {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil
	}
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

func pretty(v any) string {
	b, _ := json.MarshalIndent(v, "", "  ")
	return string(b)
}

func (a *app) page(w http.ResponseWriter, status int, title string, s *session, note string) {
	d := map[string]any{"Title": title, "Note": note, "Issuer": a.issuer}
	if s != nil {
		d["Claims"], d["Userinfo"], d["Access"] = pretty(s.claims), pretty(s.userinfo), pretty(accessClaims(s.token.AccessToken))
		d["CanRefresh"] = s.token.RefreshToken != ""
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := pageTmpl.Execute(w, d); err != nil {
		log.Print(err)
	}
}

var pageTmpl = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body{font:16px/1.5 system-ui,sans-serif;margin:0 auto;max-width:46rem;padding:1rem;color:#1a1a1a;background:#fff}
pre{white-space:pre-wrap;word-break:break-all;background:#f3f4f6;padding:.75rem;border-radius:6px;font-size:.85rem}
button{font:inherit;padding:.5rem 1rem;border:0;border-radius:6px;background:#1f4fd1;color:#fff;cursor:pointer;margin:.25rem .5rem .25rem 0}
button.secondary{background:#fff;color:#1f4fd1;border:1px solid #1f4fd1}
a:focus,button:focus{outline:3px solid #0b2a7a;outline-offset:2px}
.note{border-left:4px solid #1f4fd1;padding:.25rem .75rem;background:#eef2ff}
form{display:inline}
</style></head><body>
<h1>{{.Title}}</h1>
{{with .Note}}<p class="note" role="status">{{.}}</p>{{end}}
{{if .Claims}}
<p>This product received the following from usher ({{.Issuer}}).</p>
<form method="post" action="/refresh">{{if .CanRefresh}}<button type="submit" class="secondary">Refresh tokens</button>{{end}}</form>
<form method="post" action="/logout"><button type="submit">Sign out</button></form>
<h2>ID token claims</h2>
<pre id="id-token-claims">{{.Claims}}</pre>
<h2>Userinfo</h2>
<pre id="userinfo">{{.Userinfo}}</pre>
<h2>Access token claims</h2>
<pre id="access-token-claims">{{.Access}}</pre>
{{else}}
<p>A product that signs its users in through usher ({{.Issuer}}).</p>
<form method="post" action="/login"><button type="submit">Sign in with usher</button></form>
{{end}}
</body></html>
`))

// backchannelLogout is OpenID Connect Back-Channel Logout: usher posts a
// logout token when a person's usher session ends (signed out in usher, in
// another product, everywhere, or the account suspended). The token is a
// JWT verified like an ID token (signature, iss, aud, exp) that carries the
// back-channel logout event and no nonce; the product ends the sessions of
// its sid, or of its sub when it names no session.
func (a *app) backchannelLogout(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	idt, err := a.verifier.Verify(r.Context(), r.PostFormValue("logout_token"))
	if err != nil {
		http.Error(w, "the logout token does not verify", http.StatusBadRequest)
		return
	}
	var c struct {
		SID    string         `json:"sid"`
		Nonce  *string        `json:"nonce"`
		Events map[string]any `json:"events"`
	}
	if err := idt.Claims(&c); err != nil || c.Nonce != nil || c.Events["http://schemas.openid.net/event/backchannel-logout"] == nil ||
		(c.SID == "" && idt.Subject == "") {
		http.Error(w, "not a logout token", http.StatusBadRequest)
		return
	}
	a.mu.Lock()
	for id, s := range a.sessions {
		if (c.SID != "" && s.claims["sid"] == c.SID) || (c.SID == "" && s.sub == idt.Subject) {
			delete(a.sessions, id)
		}
	}
	a.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

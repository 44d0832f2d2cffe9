// Package view is what every audience of usher's HTTP surface shares: the
// templates of the pages people see and the writing of every page (the
// consoles parse their own templates), the one table from error code to
// HTTP status, the public addresses, the client's address and the
// signed-in session of a request. It imports no other web package.
package view

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/signin"
	"github.com/usherhq/usher/store"
)

// Tenants finds tenants by slug through the shell's per-replica cache.
type Tenants interface {
	BySlug(ctx context.Context, slug string) (usher.Tenant, error)
	// Forget drops a tenant whose settings changed through this replica.
	Forget(slug string)
}

// ClientIP is the address the request came from, as audit events record it.
func ClientIP(r *http.Request) string {
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

// TenantBase is the address of a tenant's pages, ending in "/".
func (l Links) TenantBase(t usher.Tenant) string {
	if l.BaseDomain != "" {
		return "https://" + t.Slug + "." + l.BaseDomain + "/"
	}
	return strings.TrimSuffix(l.PublicURL, "/") + "/t/" + t.Slug + "/"
}

// Activation implements provision.Links. The secret is in the path, so the
// page works without scripts; usher never logs request paths, and its pages
// send no Referer.
func (l Links) Activation(t usher.Tenant, secret string) string {
	return l.TenantBase(t) + "activate/" + secret
}

// SignIn implements provision.Links.
func (l Links) SignIn(t usher.Tenant) string { return l.TenantBase(t) }

// SignUp is the address of a sign-up link, served by the registration page.
// The code is not a secret, so it may sit in the path of a printed QR code.
func (l Links) SignUp(t usher.Tenant, code string) string {
	return l.TenantBase(t) + "join/" + code
}

// SecureCookies: cookies are Secure except when usher is reached over
// plain HTTP on localhost, where browsers would drop them.
func (l Links) SecureCookies() bool {
	if l.BaseDomain != "" {
		return true
	}
	u, err := url.Parse(l.PublicURL)
	if err != nil || u.Scheme == "https" {
		return true
	}
	switch u.Hostname() {
	case "localhost", "127.0.0.1", "::1":
		return false
	}
	return true
}

// SessionCookie holds the secret of a person's session on the tenants' pages.
const SessionCookie = "usher_session"

// Cookie is the value of the named cookie of r, or "".
func Cookie(r *http.Request, name string) string {
	if c, err := r.Cookie(name); err == nil {
		return c.Value
	}
	return ""
}

// Session returns the signed-in session of r that is valid in tn.
func Session(r *http.Request, auth *signin.Service, st *store.Store, tn usher.Tenant) (signin.Current, error) {
	return auth.Session(r.Context(), tn, func(id string) (usher.Tenant, error) { return st.Read().Tenant(r.Context(), id) }, Cookie(r, SessionCookie))
}

// SignedIn returns the identity signed in on r's browser, whatever its
// tenant, or "".
func SignedIn(r *http.Request, auth *signin.Service, st *store.Store) (string, error) {
	return auth.SignedIn(r.Context(), func(id string) (usher.Tenant, error) { return st.Read().Tenant(r.Context(), id) }, Cookie(r, SessionCookie))
}

// LangOption is a language as a form offers it.
type LangOption struct{ Code, Name string }

// languageNames are the built-in languages as their speakers name them.
var languageNames = map[string]string{"en": "English", "nl": "Nederlands", "de": "Deutsch", "fr": "Français", "sv": "Svenska", "nb": "Norsk bokmål"}

// Languages names the language codes for a form; an unknown code is its own name.
func Languages(codes []string) []LangOption {
	var out []LangOption
	for _, l := range codes {
		out = append(out, LangOption{Code: l, Name: LanguageName(l)})
	}
	return out
}

// LanguageName is a language code as its speakers name it ("en" is
// English); an unknown code is its own name.
func LanguageName(code string) string {
	if n := languageNames[code]; n != "" {
		return n
	}
	return code
}

// AllLanguages are the built-in languages.
func AllLanguages() []LangOption { return Languages([]string{"en", "nl", "de", "fr", "sv", "nb"}) }

// Sentence makes a message a sentence: capital first letter, full stop.
func Sentence(msg string) string {
	if msg == "" {
		return msg
	}
	msg = strings.ToUpper(msg[:1]) + msg[1:]
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}

package web

import (
	"bytes"
	"embed"
	"errors"
	"html/template"
	"net/http"
	"strings"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/message"
	"github.com/usherhq/usher/provision"
)

//go:embed templates/*.html
var templateFS embed.FS

// pages holds one template set per page file, each with the layout: every
// file defines its own "content".
var pages = func() map[string]*template.Template {
	// The tenant's color is the buttons' background; their text is white or
	// black, whichever is readable on it (WCAG AA, 4.5:1, as in the
	// messages), and links take the color only when it is readable.
	brand := func(t usher.Tenant) string {
		if c := t.Settings.Branding.Color; message.ValidColor(c) {
			return strings.ToLower(c)
		}
		return "#1f4fd1"
	}
	contrast := func(t usher.Tenant) float64 { return message.ContrastWithWhite(brand(t)) }
	funcs := template.FuncMap{
		"brand": func(t usher.Tenant) template.CSS { return template.CSS(brand(t)) },
		"brandText": func(t usher.Tenant) template.CSS {
			if contrast(t) >= 4.5 {
				return "#fff"
			}
			return "#000"
		},
		"brandLink": func(t usher.Tenant) template.CSS {
			// 4.9 on white is 4.5 on the pages' light gray (--bg) too.
			if contrast(t) >= 4.9 {
				return template.CSS(brand(t))
			}
			return "#1a1a1a"
		},
		"dict": dict,
	}
	m := map[string]*template.Template{}
	for _, name := range []string{"activate", "signin", "account", "register"} {
		m[name] = template.Must(template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/parts.html", "templates/"+name+".html"))
	}
	return m
}()

// pageData is what the person-facing templates show.
type pageData struct {
	Page           string // the template set; "activate" when empty
	Title          string
	Tenant         usher.Tenant
	Base           string // the tenant's address, ending in "/"
	Mode           string
	FirstName      string
	Login          string
	ConnectionName string
	Problem        string
	Notice         string
	Action         string
	RequestAction  string
	SignIn         string
	Errors         map[string]string
	signinData
}

// tenantPage resolves the tenant of a person-facing page; an unknown
// tenant is a plain 404 page.
func (s *Server) tenantPage(w http.ResponseWriter, r *http.Request) (usher.Tenant, bool) {
	tn, err := s.tenantBySlug(r.Context(), r.PathValue("tenant"))
	if err != nil {
		if errors.Is(err, usher.ErrNotFound) {
			http.Error(w, "There is no organization at this address.", http.StatusNotFound)
		} else {
			s.log.ErrorContext(r.Context(), "tenant lookup", "err", err)
			http.Error(w, "Something went wrong on our side.", http.StatusInternalServerError)
		}
		return tn, false
	}
	if tn.DeactivatedAt != nil {
		http.Error(w, "There is no organization at this address.", http.StatusNotFound)
		return tn, false
	}
	return tn, true
}

func (s *Server) render(w http.ResponseWriter, status int, d pageData) {
	base := s.cfg.Links.tenantBase(d.Tenant)
	d.Base = base
	d.RequestAction = base + "activate/request"
	d.SignIn = base
	if d.Errors == nil {
		d.Errors = map[string]string{}
	}
	if d.Page == "" {
		d.Page = "activate"
	}
	s.writePage(w, status, pages[d.Page], "layout", d, "")
}

// writePage renders a page whole before answering, so a template error is
// a clean 500, with the headers every page carries: never cached, no
// Referer (activation secrets are in paths), no framing, a strict CSP;
// img may allow more sources than none.
func (s *Server) writePage(w http.ResponseWriter, status int, t *template.Template, name string, d any, img string) {
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, d); err != nil {
		s.log.Error("render page", "page", t.Name(), "err", err)
		http.Error(w, "Something went wrong on our side.", http.StatusInternalServerError)
		return
	}
	csp := "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
	if img != "" {
		csp += "; img-src " + img
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", csp)
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// problemPage explains what happened to a link without saying whether an
// account exists, and offers to send a new one.
func (s *Server) problemPage(w http.ResponseWriter, tn usher.Tenant, err error) {
	d := pageData{Tenant: tn, Mode: "problem"}
	switch {
	case errors.Is(err, provision.ErrActivationExpired):
		d.Title, d.Problem = "This link has expired", "Activation links work for a limited time. Ask for a new one below."
	case errors.Is(err, provision.ErrActivationUsed):
		d.Title, d.Problem = "This link was used already", "Each activation link works once. If your account is active, sign in; otherwise ask for a new link below."
	default:
		d.Title, d.Problem = "This link is not valid", "Check that you opened the whole link from your message, or ask for a new one below."
	}
	s.render(w, http.StatusGone, d)
}

func (s *Server) handleActivateGet(w http.ResponseWriter, r *http.Request) {
	tn, ok := s.tenantPage(w, r)
	if !ok {
		return
	}
	red, err := s.svc.Inspect(r.Context(), tn, r.PathValue("secret"))
	if err != nil {
		s.pageError(w, r, tn, err)
		return
	}
	s.render(w, http.StatusOK, pageData{Title: "Activate your account", Tenant: tn, Mode: red.Mode, FirstName: red.Person.FirstName,
		Login: loginOf(red.Account), ConnectionName: red.ConnectionName, Action: r.URL.Path})
}

func (s *Server) handleActivatePost(w http.ResponseWriter, r *http.Request) {
	tn, ok := s.tenantPage(w, r)
	if !ok {
		return
	}
	secret := r.PathValue("secret")
	red, err := s.svc.Inspect(r.Context(), tn, secret)
	if err != nil {
		s.pageError(w, r, tn, err)
		return
	}
	d := pageData{Title: "Activate your account", Tenant: tn, Mode: red.Mode, FirstName: red.Person.FirstName, Login: loginOf(red.Account),
		ConnectionName: red.ConnectionName, Action: r.URL.Path, Errors: map[string]string{}}
	pw := r.PostFormValue("password")
	if red.Mode == provision.ModeChoosePassword && pw != r.PostFormValue("confirm") {
		d.Errors["confirm"] = "The two passwords are not the same."
		s.render(w, http.StatusUnprocessableEntity, d)
		return
	}
	a, err := s.svc.ActivateWithLink(r.Context(), tn, secret, pw, clientIP(r))
	if err != nil {
		var ue *usher.Error
		if errors.As(err, &ue) && ue.Code == usher.CodeInvalid {
			d.Errors[fieldOr(ue.Field, "password")] = sentence(ue.Message)
			s.render(w, http.StatusUnprocessableEntity, d)
			return
		}
		s.pageError(w, r, tn, err)
		return
	}
	s.render(w, http.StatusOK, pageData{Title: "Your account is active", Tenant: tn, Mode: "done", Login: loginOf(a)})
}

// handleEnterGet is the page for typing an SMS code or a one-time password.
func (s *Server) handleEnterGet(w http.ResponseWriter, r *http.Request) {
	tn, ok := s.tenantPage(w, r)
	if !ok {
		return
	}
	s.render(w, http.StatusOK, pageData{Title: "Activate your account", Tenant: tn, Mode: "enter", Action: r.URL.Path, Login: r.URL.Query().Get("identifier")})
}

func (s *Server) handleEnterPost(w http.ResponseWriter, r *http.Request) {
	tn, ok := s.tenantPage(w, r)
	if !ok {
		return
	}
	id, code, pw := strings.TrimSpace(r.PostFormValue("identifier")), strings.TrimSpace(r.PostFormValue("code")), r.PostFormValue("password")
	d := pageData{Title: "Activate your account", Tenant: tn, Mode: "enter", Action: r.URL.Path, Login: id, Errors: map[string]string{}}
	switch {
	case id == "":
		d.Errors["identifier"] = "Enter your phone number, username or email."
	case code == "":
		d.Errors["code"] = "Enter the code or one-time password."
	case pw != r.PostFormValue("confirm"):
		d.Errors["confirm"] = "The two passwords are not the same."
	}
	if len(d.Errors) > 0 {
		d.Errors["form"] = "Please correct the fields marked below."
		s.render(w, http.StatusUnprocessableEntity, d)
		return
	}
	var a usher.Account
	var err error
	// A short all-digit value is an SMS code; anything else a one-time password.
	if len(code) == provision.CodeDigits && strings.Trim(code, "0123456789") == "" {
		a, err = s.svc.ActivateWithCode(r.Context(), tn, id, code, pw, clientIP(r))
	} else {
		a, err = s.svc.ActivateWithOneTimePassword(r.Context(), tn, id, code, pw, clientIP(r))
	}
	if err != nil {
		var ue *usher.Error
		if errors.As(err, &ue) && (ue.Code == usher.CodeInvalid || ue.Code == usher.CodeConflict) {
			d.Errors[fieldOr(ue.Field, "code")] = sentence(ue.Message)
			d.Errors["form"] = "The account could not be activated."
			s.render(w, http.StatusUnprocessableEntity, d)
			return
		}
		s.pageError(w, r, tn, err)
		return
	}
	s.render(w, http.StatusOK, pageData{Title: "Your account is active", Tenant: tn, Mode: "done", Login: loginOf(a)})
}

// handleRequest sends a new activation link when there is an invited
// account, and answers the same when there is none.
func (s *Server) handleRequest(w http.ResponseWriter, r *http.Request) {
	tn, ok := s.tenantPage(w, r)
	if !ok {
		return
	}
	id := strings.TrimSpace(r.PostFormValue("identifier"))
	if id == "" || len(id) > 320 {
		s.render(w, http.StatusUnprocessableEntity, pageData{Title: "Activate your account", Tenant: tn, Mode: "enter",
			Action: s.cfg.Links.tenantBase(tn) + "activate", Errors: map[string]string{"form": "Enter your email, phone number or username to get a new link."}})
		return
	}
	if err := s.svc.RequestActivation(r.Context(), tn, id, clientIP(r)); err != nil {
		s.log.ErrorContext(r.Context(), "activation request", "err", err)
	}
	s.render(w, http.StatusOK, pageData{Title: "Check your messages", Tenant: tn, Mode: "requested", Login: id})
}

func (s *Server) pageError(w http.ResponseWriter, r *http.Request, tn usher.Tenant, err error) {
	var ue *usher.Error
	if errors.As(err, &ue) && ue.Code != usher.CodeInternal {
		s.problemPage(w, tn, err)
		return
	}
	s.log.ErrorContext(r.Context(), "activation page", "route", r.Pattern, "err", err)
	http.Error(w, "Something went wrong on our side. Please try again in a moment.", http.StatusInternalServerError)
}

func loginOf(a usher.Account) string {
	switch {
	case a.Email != "":
		return a.Email
	case a.Username != "":
		return a.Username
	}
	return a.Phone
}

func fieldOr(f, def string) string {
	if f == "" {
		return def
	}
	return f
}

// sentence turns a field message ("must be at least 8 characters long")
// into one a person reads on its own.
func sentence(msg string) string {
	if msg == "" {
		return msg
	}
	if strings.HasPrefix(msg, "must ") || strings.HasPrefix(msg, "is ") {
		msg = "The password " + msg
	}
	msg = strings.ToUpper(msg[:1]) + msg[1:]
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
}

package view

import (
	"bytes"
	"embed"
	"errors"
	"html/template"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/message"
)

//go:embed templates/*.html
var templateFS embed.FS

// Brand is the tenant's color, the buttons' background.
func Brand(t usher.Tenant) string {
	if c := t.Settings.Branding.Color; message.ValidColor(c) {
		return strings.ToLower(c)
	}
	return "#1f4fd1"
}

// personPages holds one template set per page file of the pages people
// see, each with the layout: every file defines its own "content".
var personPages = func() map[string]*template.Template {
	// The buttons' text is white or black, whichever is readable on the
	// tenant's color (WCAG AA, 4.5:1, as in the messages), and links take
	// the color only when it is readable.
	contrast := func(t usher.Tenant) float64 { return message.ContrastWithWhite(Brand(t)) }
	funcs := template.FuncMap{
		"brand": func(t usher.Tenant) template.CSS { return template.CSS(Brand(t)) },
		"brandText": func(t usher.Tenant) template.CSS {
			if contrast(t) >= 4.5 {
				return "#fff"
			}
			return "#000"
		},
		"brandLink": func(t usher.Tenant) template.CSS {
			// 4.9 on white is 4.5 on the pages' light gray (--bg) too.
			if contrast(t) >= 4.9 {
				return template.CSS(Brand(t))
			}
			return "#1a1a1a"
		},
		"dict": Dict,
	}
	m := map[string]*template.Template{}
	for _, name := range []string{"activate", "signin", "account", "register", "home", "consent", "signout", "sso", "links"} {
		m[name] = template.Must(template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/parts.html", "templates/"+name+".html"))
	}
	return m
}()

// Dict builds the argument of a partial template from name, value pairs.
func Dict(kv ...any) map[string]any {
	m := make(map[string]any, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

// FieldLabel names a field in an error summary.
func FieldLabel(f string) string {
	f = strings.TrimPrefix(strings.TrimSuffix(f, "_id"), "settings.")
	f = strings.ReplaceAll(strings.ReplaceAll(f, "_", " "), ".", " ")
	return strings.ToUpper(f[:1]) + f[1:]
}

// View writes pages and the answers to errors no page explains.
type View struct {
	log *slog.Logger
}

// New returns a View that logs to log.
func New(log *slog.Logger) *View { return &View{log: log} }

// Person writes one of the pages people see ("activate", "signin",
// "account", "register", "home").
func (v *View) Person(w http.ResponseWriter, r *http.Request, status int, page string, d any) {
	v.write(w, r, status, personPages[page], "layout", d, "")
}

// Console writes a page of the consoles, t made by the console's own
// templates (package console). The sign-up links' QR codes are images of
// the console itself.
func (v *View) Console(w http.ResponseWriter, r *http.Request, status int, t *template.Template, d any) {
	v.write(w, r, status, t, "console", d, "'self'")
}

// write renders a page whole before answering, so a template error is
// a clean 500, with the headers every page carries: never cached, no
// Referer (activation secrets are in paths), no framing, a strict CSP;
// img may allow more sources than none.
func (v *View) write(w http.ResponseWriter, r *http.Request, status int, t *template.Template, name string, d any, img string) {
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, name, d); err != nil {
		v.Internal(w, r, "render page "+t.Name(), err)
		return
	}
	csp := "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'" + formTargets(r) + "; frame-ancestors 'none'" + frameSources(r)
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

// Internal logs an error that is our fault, with the route pattern (never
// the path: a path may carry a secret), and answers a plain 500 that says
// nothing of it.
func (v *View) Internal(w http.ResponseWriter, r *http.Request, what string, err error) {
	v.log.ErrorContext(r.Context(), what, "route", r.Pattern, "err", err)
	http.Error(w, "Something went wrong on our side. Please try again in a moment.", http.StatusInternalServerError)
}

// Fail is the one HTML answer to an error no form field explains: an
// internal error (or one without a code) goes to Internal; any other is
// shown by show with the status of its code.
func (v *View) Fail(w http.ResponseWriter, r *http.Request, err error, show func(status int, e *usher.Error)) {
	var ue *usher.Error
	if !errors.As(err, &ue) || ue.Code == usher.CodeInternal {
		v.Internal(w, r, "page", err)
		return
	}
	show(Status(ue.Code), ue)
}

// File is a success response that is not JSON or a page, such as an image.
type File struct {
	ContentType string
	Filename    string // offered to save it as; "" for none
	Body        []byte
	// Stream, when set, writes the body as it is made instead of Body (a
	// large report); an error halfway breaks the response off, so that
	// no one takes a cut file for a whole one.
	Stream func(w io.Writer) error
}

// Write answers with the file, never cached or sniffed.
func (b File) Write(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", b.ContentType)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if b.Filename != "" {
		w.Header().Set("Content-Disposition", mime.FormatMediaType("inline", map[string]string{"filename": b.Filename}))
	}
	if b.Stream != nil {
		w.WriteHeader(status)
		if err := b.Stream(w); err != nil {
			panic(http.ErrAbortHandler)
		}
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(b.Body)))
	w.WriteHeader(status)
	_, _ = w.Write(b.Body)
}

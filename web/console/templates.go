package console

import (
	"embed"
	"html/template"
	"io/fs"
	"regexp"
	"strings"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/web/view"
)

// The console's layout and partials are here; each area's pages sit in
// its own package's templates/ and are parsed with these by Pages.
//
//go:embed templates/*.html
var templateFS embed.FS

// pages are the core's own: the answer to a refused or failed request.
var pages = Pages(templateFS, "problem")

// Pages parses console pages: each of names from fsys's
// templates/<name>.html, with the console's layout and partials, which
// execute it as "console".
func Pages(fsys fs.FS, names ...string) map[string]*template.Template {
	m := map[string]*template.Template{}
	for _, name := range names {
		t := template.Must(template.New(name).Option("missingkey=zero").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/parts.html"))
		m[name] = template.Must(t.ParseFS(fsys, "templates/"+name+".html"))
	}
	return m
}

// funcs are the console templates' functions.
var funcs = template.FuncMap{
	"brand": func(t usher.Tenant) template.CSS { return template.CSS(view.Brand(t)) },
	"dict":  view.Dict,
	"has": func(list []string, v string) bool {
		for _, x := range list {
			if x == v {
				return true
			}
		}
		return false
	},
	"when": func(t interface{ Format(string) string }) string { return t.Format("2 Jan 2006 15:04") },
	// free is a plan's free seats, never below zero when seats were lowered.
	"free": func(p usher.Plan) int { return max(p.Seats-p.SeatsUsed, 0) },
	"list": func(v ...string) []string { return v },
	"join": func(v []string) string { return strings.Join(v, ", ") },
	// prefixed gives a partial the errors of fields under a prefix by their short names.
	"prefixed": func(errs map[string]string, p string) map[string]string {
		out := map[string]string{}
		for k, v := range errs {
			if n, ok := strings.CutPrefix(k, p); ok {
				out[n] = v
			}
		}
		return out
	},
	"fieldName": func(f string) string {
		if f == usher.FieldLogin {
			return "Email, or username + phone"
		}
		return view.FieldLabel(f)
	},
	"linkify": linkify,
	// errorsOf gives a form the errors only when it is the one that failed.
	"errorsOf": func(open, form string, errs map[string]string) map[string]string {
		if open == form {
			return errs
		}
		return nil
	},
	"split": func(s string) []string { return strings.Split(s, ",") },
	"ifLogin": func(req map[string]bool) string {
		if req[usher.FieldLogin] {
			return "Required: an email, or a username and a phone number."
		}
		return ""
	},
}

var urlRE = regexp.MustCompile(`https?://[^\s<>"]+`)

// linkify escapes a plain-text message and makes its addresses links.
func linkify(text string) template.HTML {
	var b strings.Builder
	last := 0
	for _, m := range urlRE.FindAllStringIndex(text, -1) {
		b.WriteString(template.HTMLEscapeString(text[last:m[0]]))
		u := template.HTMLEscapeString(text[m[0]:m[1]])
		b.WriteString(`<a href="` + u + `">` + u + `</a>`)
		last = m[1]
	}
	b.WriteString(template.HTMLEscapeString(text[last:]))
	return template.HTML(b.String())
}

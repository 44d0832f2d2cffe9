package web

import (
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/message"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/signin"
	"github.com/usherhq/usher/store"
)

// The console is the administrators' part of the pages: tenant and user
// administrators sign in through the sign-in pages and work at
// /t/<tenant>/admin/. Every change goes through the provisioning service
// with the signed-in account as the actor; the console holds no rules.

// consolePages are the console's template sets: the console layout and one page each.
var consolePages = func() map[string]*template.Template {
	funcs := template.FuncMap{
		"brand": func(t usher.Tenant) template.CSS {
			if c := t.Settings.Branding.Color; message.ValidColor(c) {
				return template.CSS(c)
			}
			return "#1f4fd1"
		},
		"dict": dict,
		"has": func(list []string, v string) bool {
			for _, x := range list {
				if x == v {
					return true
				}
			}
			return false
		},
		"when": func(t interface{ Format(string) string }) string { return t.Format("2 Jan 2006 15:04") },
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
			return fieldLabel(f)
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
	m := map[string]*template.Template{}
	for _, name := range []string{"home", "people", "person", "person_new", "user_new", "wizard", "one_time", "orgs", "org",
		"plans", "settings", "catalog", "links", "messages", "message", "audit", "problem", "op_signin", "op_tenants", "op_tenant"} {
		m[name] = template.Must(template.New(name).Option("missingkey=zero").Funcs(funcs).ParseFS(templateFS, "templates/console_layout.html", "templates/console_parts.html", "templates/console_"+name+".html"))
	}
	return m
}()

// dict builds the argument of a partial template from name, value pairs.
func dict(kv ...any) map[string]any {
	m := make(map[string]any, len(kv)/2)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

// consoleData is what every console page shows, with the page's own in Data.
type consoleData struct {
	Title       string
	Section     string
	Tenant      usher.Tenant
	Base        string // the tenant's address
	Admin       string // the console's address
	Me          usher.Account
	TenantAdmin bool
	Notice      string
	Errors      map[string]string
	Values      map[string]string
	Data        any
	// Operator pages: the operators' console, signed in with a token.
	Operator     bool
	OperatorName string
}

// consoleCall is one request to the console by a signed-in administrator.
type consoleCall struct {
	tn    usher.Tenant
	cur   signin.Current
	actor provision.Actor
	d     consoleData
}

// consoleRoute registers a console page: only a signed-in account with
// administrator rights in the tenant reaches h. A person without them is
// told so; without a session they are sent to sign in.
func (s *Server) consoleRoute(pattern string, csrf *http.CrossOriginProtection, h func(w http.ResponseWriter, r *http.Request, c *consoleCall)) {
	s.mux.Handle(pattern, s.metrics.instrument(pattern, csrf.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tn, cur, ok := s.signedInPage(w, r)
		if !ok {
			return
		}
		a := cur.Account
		base := s.cfg.Links.tenantBase(tn)
		c := &consoleCall{tn: tn, cur: cur,
			actor: provision.Actor{Kind: "account", ID: a.ID, Role: a.AdminRole, Source: clientIP(r)},
			d: consoleData{Tenant: tn, Base: base, Admin: base + "admin/", Me: a, TenantAdmin: a.AdminRole == usher.AdminTenant,
				Errors: map[string]string{}, Values: map[string]string{}}}
		if a.AdminRole != usher.AdminUser && a.AdminRole != usher.AdminTenant {
			c.d.Title = "No administrator rights"
			c.d.Data = "Your account has no administrator rights in " + tn.Name + ". Ask a tenant administrator to give you them."
			s.renderConsole(w, http.StatusForbidden, "problem", c.d)
			return
		}
		h(w, r, c)
	}))))
}

func (s *Server) renderConsole(w http.ResponseWriter, status int, page string, d consoleData) {
	// The sign-up links' QR codes are images of the console itself.
	s.writePage(w, status, consolePages[page], "console", d, "'self'")
}

// fail answers an error no field explains: what was refused, or our fault.
func (s *Server) consoleFail(w http.ResponseWriter, r *http.Request, c *consoleCall, err error) {
	var ue *usher.Error
	if !errors.As(err, &ue) || ue.Code == usher.CodeInternal {
		s.log.ErrorContext(r.Context(), "console", "route", r.Pattern, "err", err)
		http.Error(w, "Something went wrong on our side. Please try again in a moment.", http.StatusInternalServerError)
		return
	}
	status := map[usher.Code]int{usher.CodeNotFound: 404, usher.CodeForbidden: 403, usher.CodeConflict: 409, usher.CodeSeatsFull: 409, usher.CodeInvalid: 422}[ue.Code]
	if status == 0 {
		status = 400
	}
	c.d.Title = map[int]string{404: "Not found", 403: "Not allowed", 409: "Not possible now", 422: "Not accepted"}[status]
	if c.d.Title == "" {
		c.d.Title = "Not accepted"
	}
	c.d.Data = capital(ue.Message)
	s.renderConsole(w, status, "problem", c.d)
}

// formErrors puts the provisioning path's problems next to their fields,
// with a summary of all of them at the top (a field the form does not show
// is still explained there), and reports true; errors of another kind go
// to consoleFail.
func (s *Server) formErrors(w http.ResponseWriter, r *http.Request, c *consoleCall, err error) bool {
	var es usher.Errors
	var ue *usher.Error
	switch {
	case errors.As(err, &es) && len(es) > 1:
	case errors.As(err, &ue) && ue.Code != usher.CodeInternal && (ue.Field != "" || ue.Code != usher.CodeNotFound):
		es = usher.Errors{ue}
	default:
		s.consoleFail(w, r, c, err)
		return false
	}
	var sum []string
	for _, e := range es {
		msg := capital(e.Message)
		if e.Field != "" {
			c.d.Errors[e.Field] = msg
			msg = fieldLabel(e.Field) + ": " + msg
		}
		sum = append(sum, msg)
	}
	c.d.Errors["form"] = strings.Join(sum, " ")
	return true
}

// formStatus is the status of a form answered with its errors: 409 when
// the input clashes with what exists, 422 when it is wrong in itself.
func formStatus(err error) int {
	switch usher.ErrorCode(err) {
	case usher.CodeConflict, usher.CodeSeatsFull:
		return http.StatusConflict
	}
	return http.StatusUnprocessableEntity
}

// fieldLabel names a field in an error summary.
func fieldLabel(f string) string {
	f = strings.TrimPrefix(strings.TrimSuffix(f, "_id"), "settings.")
	f = strings.ReplaceAll(strings.ReplaceAll(f, "_", " "), ".", " ")
	return strings.ToUpper(f[:1]) + f[1:]
}

// form reads the named form values, trimmed, into c.d.Values.
func (c *consoleCall) form(r *http.Request, names ...string) map[string]string {
	for _, n := range names {
		c.d.Values[n] = strings.TrimSpace(r.PostFormValue(n))
	}
	return c.d.Values
}

// noticeCookie carries the outcome of a change to the page the browser is
// sent to next. A cookie, not the address: a link cannot make the console
// show words of someone else's choosing.
const noticeCookie = "usher_notice"

// redirect sends the browser on after a change, with a notice to show there.
func (s *Server) redirect(w http.ResponseWriter, r *http.Request, to, notice string) {
	if notice != "" {
		http.SetCookie(w, &http.Cookie{Name: noticeCookie, Value: url.QueryEscape(notice), Path: "/", HttpOnly: true,
			Secure: s.secureCookies(), SameSite: http.SameSiteStrictMode, MaxAge: 60})
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// flash returns the notice a redirect carried, once.
func (s *Server) flash(w http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(noticeCookie)
	if err != nil {
		return ""
	}
	http.SetCookie(w, &http.Cookie{Name: noticeCookie, Path: "/", MaxAge: -1})
	n, err := url.QueryUnescape(c.Value)
	if err != nil || len(n) > 1000 {
		return ""
	}
	return n
}

// choices are a tenant's catalogues, plans and organizations for forms.
type choices struct {
	Roles, Departments, JobProfiles, Groups []usher.Attribute
	Plans                                   []usher.Plan
	FreePlans                               int
	Languages                               []langOption
	Required                                map[string]bool
	Connections                             []usher.Connection
}

func (s *Server) choices(r *http.Request, tn usher.Tenant) (choices, error) {
	ctx := r.Context()
	rd := s.st.Read()
	var ch choices
	var err error
	all := store.ListOptions{Limit: 500}
	for _, k := range []struct {
		kind string
		dst  *[]usher.Attribute
	}{{usher.KindRole, &ch.Roles}, {usher.KindDepartment, &ch.Departments}, {usher.KindJobProfile, &ch.JobProfiles}, {usher.KindGroup, &ch.Groups}} {
		if *k.dst, _, err = rd.Attributes(ctx, tn.ID, k.kind, true, all); err != nil {
			return ch, err
		}
	}
	if ch.Plans, _, err = rd.Plans(ctx, tn.ID, true, all); err != nil {
		return ch, err
	}
	for _, p := range ch.Plans {
		if p.SeatsUsed < p.Seats {
			ch.FreePlans++
		}
	}
	if ch.Connections, _, err = rd.Connections(ctx, tn.ID, true, all); err != nil {
		return ch, err
	}
	for _, l := range tn.Settings.Languages {
		name := languageNames[l]
		if name == "" {
			name = l
		}
		ch.Languages = append(ch.Languages, langOption{Code: l, Name: name})
	}
	ch.Required = map[string]bool{}
	for _, f := range tn.Settings.RequiredFields {
		ch.Required[f] = true
	}
	return ch, nil
}

// pageOf reads the paging of a list page: ?after= and ?limit=.
func pageOf(r *http.Request) store.ListOptions {
	o := store.ListOptions{After: r.URL.Query().Get("after"), Limit: 50}
	if n, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && n > 0 && n <= 200 {
		o.Limit = n
	}
	return o
}

// nextURL is the address of the next page of the list at r, or "".
func nextURL(r *http.Request, next string) string {
	if next == "" {
		return ""
	}
	q := r.URL.Query()
	q.Set("after", next)
	q.Del("notice")
	return r.URL.Path + "?" + q.Encode()
}

// capital makes a message a sentence: capital first letter, full stop.
func capital(msg string) string {
	if msg == "" {
		return msg
	}
	msg = strings.ToUpper(msg[:1]) + msg[1:]
	if !strings.HasSuffix(msg, ".") {
		msg += "."
	}
	return msg
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

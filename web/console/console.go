// Package console is what the administrators' consoles share: the
// tenant console, where tenant and user administrators who signed in
// through the sign-in pages work at /t/<tenant>/admin/, and the operators'
// console at /operator/. It holds the layout's data, the guard of tenant
// console pages, and the answers to forms (errors next to fields, notices
// carried over a redirect, paging); each area of the consoles is a package
// below it. Every change goes through the provisioning service with the
// signed-in account or operator as the actor; the consoles hold no rules.
package console

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/signin"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/web/view"
)

// SignedIn resolves the tenant and the signed-in session of a request, or
// answers it (sends the person to sign in) and reports false. The pages
// that sign people in provide it.
type SignedIn func(w http.ResponseWriter, r *http.Request) (usher.Tenant, signin.Current, bool)

// Console is what every console page uses; the areas' handlers embed it
// and add the services of their own.
type Console struct {
	Log   *slog.Logger
	View  *view.View
	Store *store.Store
	Links view.Links
	Now   func() time.Time
	// Delivers holds the channels with a provider; messages on the
	// others stay queued, to be read in the console.
	Delivers map[string]bool
	// OperatorToken is where the start-up operator token came from.
	OperatorToken string
	signedIn      SignedIn
}

// Deps are what the consoles share.
type Deps struct {
	Log      *slog.Logger
	View     *view.View
	Store    *store.Store
	Links    view.Links
	SignedIn SignedIn
	Clock    func() time.Time
	// Channels are the message channels a provider delivers ("email", "sms").
	Channels []string
	// OperatorToken is where the start-up operator token came from (see web.Config).
	OperatorToken string
}

// New returns what the consoles share.
func New(d Deps) *Console {
	c := &Console{Log: d.Log, View: d.View, Store: d.Store, Links: d.Links, Now: d.Clock, Delivers: map[string]bool{},
		OperatorToken: d.OperatorToken, signedIn: d.SignedIn}
	for _, ch := range d.Channels {
		c.Delivers[ch] = true
	}
	return c
}

// Page is a console page, called once its administrator is known.
type Page func(w http.ResponseWriter, r *http.Request, c *Call)

// PageData is what every console page shows, with the page's own in Data.
type PageData struct {
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
	// NoDelivery: no provider delivers any channel, so the forms that
	// make messages say where they are kept.
	NoDelivery bool
	// Refresh, in seconds, reloads the page without scripts (a running
	// import's progress).
	Refresh int
	Data    any
	// Operator pages: the operators' console, signed in with a token.
	Operator     bool
	OperatorName string
}

// Call is one request to the console by a signed-in administrator.
type Call struct {
	Tenant  usher.Tenant
	Current signin.Current
	Actor   usher.Actor
	Data    PageData
}

// Admin guards a tenant console page: only a signed-in account with
// administrator rights in the tenant reaches page. A person without them
// is told so; without a session they are sent to sign in.
func (h *Console) Admin(page Page) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tn, cur, ok := h.signedIn(w, r)
		if !ok {
			return
		}
		a := cur.Account
		base := h.Links.TenantBase(tn)
		c := &Call{Tenant: tn, Current: cur,
			Actor: usher.Actor{Kind: usher.ActorAccount, ID: a.ID, Role: a.AdminRole, Source: view.ClientIP(r)},
			Data: PageData{Tenant: tn, Base: base, Admin: base + "admin/", Me: a, TenantAdmin: a.AdminRole == usher.AdminTenant,
				Errors: map[string]string{}, Values: map[string]string{}, NoDelivery: len(h.Delivers) == 0}}
		if a.AdminRole != usher.AdminUser && a.AdminRole != usher.AdminTenant {
			c.Data.Title = "No administrator rights"
			c.Data.Data = "Your account has no administrator rights in " + tn.Name + ". Ask a tenant administrator to give you them."
			h.View.Console(w, r, http.StatusForbidden, pages["problem"], c.Data)
			return
		}
		page(w, r, c)
	})
}

// Fail answers an error no field explains: what was refused, or our fault.
func (h *Console) Fail(w http.ResponseWriter, r *http.Request, c *Call, err error) {
	h.View.Fail(w, r, err, func(status int, ue *usher.Error) {
		c.Data.Title = map[int]string{404: "Not found", 403: "Not allowed", 409: "Not possible now", 422: "Not accepted"}[status]
		if c.Data.Title == "" {
			c.Data.Title = "Not accepted"
		}
		c.Data.Data = view.Sentence(ue.Message)
		h.View.Console(w, r, status, pages["problem"], c.Data)
	})
}

// FormErrors puts the provisioning path's problems next to their fields,
// with a summary of all of them at the top (a field the form does not show
// is still explained there), and reports true; errors of another kind go
// to Fail.
func (h *Console) FormErrors(w http.ResponseWriter, r *http.Request, c *Call, err error) bool {
	var es usher.Errors
	var ue *usher.Error
	switch {
	case errors.As(err, &es) && len(es) > 1:
	case errors.As(err, &ue) && ue.Code != usher.CodeInternal && (ue.Field != "" || ue.Code != usher.CodeNotFound):
		es = usher.Errors{ue}
	default:
		h.Fail(w, r, c, err)
		return false
	}
	var sum []string
	for _, e := range es {
		msg := view.Sentence(e.Message)
		if e.Field != "" {
			// Next to its field, "is required" reads "Required.".
			c.Data.Errors[e.Field] = view.Sentence(strings.TrimPrefix(e.Message, "is "))
			msg = summaryLine(view.FieldLabel(e.Field), e.Message)
		}
		sum = append(sum, msg)
	}
	c.Data.Errors["form"] = strings.Join(sum, " ")
	return true
}

// summaryLine names the field of a problem in the summary at the top of a
// form: "Department is required in this tenant." for a message that goes
// on from the field's name, "Email: give an email, …" for one of its own,
// never a capital after the colon.
func summaryLine(label, msg string) string {
	for _, verb := range []string{"is ", "are ", "must ", "has ", "was "} {
		if strings.HasPrefix(msg, verb) {
			return view.Sentence(label + " " + msg)
		}
	}
	return view.Sentence(label + ": " + msg)
}

// FormStatus is the status of a form answered with its errors: 409 when
// the input clashes with what exists, 422 when it is wrong in itself.
func FormStatus(err error) int {
	switch usher.ErrorCode(err) {
	case usher.CodeConflict, usher.CodeSeatsFull:
		return http.StatusConflict
	}
	return http.StatusUnprocessableEntity
}

// Form reads the named form values, trimmed, into c.Data.Values.
func (c *Call) Form(r *http.Request, names ...string) map[string]string {
	for _, n := range names {
		c.Data.Values[n] = strings.TrimSpace(r.PostFormValue(n))
	}
	return c.Data.Values
}

// noticeCookie carries the outcome of a change to the page the browser is
// sent to next. A cookie, not the address: a link cannot make the console
// show words of someone else's choosing.
const noticeCookie = "usher_notice"

// Redirect sends the browser on after a change, with a notice to show there.
func (h *Console) Redirect(w http.ResponseWriter, r *http.Request, to, notice string) {
	if notice != "" {
		http.SetCookie(w, &http.Cookie{Name: noticeCookie, Value: url.QueryEscape(notice), Path: "/", HttpOnly: true,
			Secure: h.Links.SecureCookies(), SameSite: http.SameSiteStrictMode, MaxAge: 60})
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// Flash returns the notice a redirect carried, once.
func (h *Console) Flash(w http.ResponseWriter, r *http.Request) string {
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

// Choices are a tenant's catalogues, plans and organizations for forms.
type Choices struct {
	Roles, Departments, JobProfiles, Groups []usher.Attribute
	Plans                                   []usher.Plan
	FreePlans                               int
	Languages                               []view.LangOption
	Required                                map[string]bool
	Connections                             []usher.Connection
}

// Choices reads tn's choices for a form.
func (h *Console) Choices(r *http.Request, tn usher.Tenant) (Choices, error) {
	ctx := r.Context()
	rd := h.Store.Read()
	var ch Choices
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
	ch.Languages = view.Languages(tn.Settings.Languages)
	ch.Required = map[string]bool{}
	for _, f := range tn.Settings.RequiredFields {
		ch.Required[f] = true
	}
	return ch, nil
}

// PageOf reads the paging of a list page: ?after= and ?limit=.
func PageOf(r *http.Request) store.ListOptions {
	o := store.ListOptions{After: r.URL.Query().Get("after"), Limit: 50}
	if n, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && n > 0 && n <= 200 {
		o.Limit = n
	}
	return o
}

// NextURL is the address of the next page of the list at r, or "".
func NextURL(r *http.Request, next string) string {
	if next == "" {
		return ""
	}
	q := r.URL.Query()
	q.Set("after", next)
	q.Del("notice")
	return r.URL.Path + "?" + q.Encode()
}

// RedirectProblem sends the browser back to a page with a refused
// action's reason; other errors get the error page.
func (h *Console) RedirectProblem(w http.ResponseWriter, r *http.Request, c *Call, to string, err error) {
	h.View.Fail(w, r, err, func(_ int, ue *usher.Error) { h.Redirect(w, r, to, "Not done: "+view.Sentence(ue.Message)) })
}

// Option is one choice of a select.
type Option struct{ ID, Name string }

// Plural counts noun: "1 seat", "2 seats".
func Plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// SplitList reads a list typed one a line or separated by commas or spaces.
func SplitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' }) {
		out = append(out, f)
	}
	return out
}

// bootstrapTokenID is the id provision gives the start-up operator token.
const bootstrapTokenID = "bootstrap-operator"

// TokenName names an API token as the consoles show who acted: the
// start-up operator token by where it came from, any other by its name.
func (h *Console) TokenName(tok usher.APIToken) string {
	if tok.ID == bootstrapTokenID {
		switch h.OperatorToken {
		case "printed":
			return "the operator token printed at start"
		case "environment":
			return "the operator token of USHER_BOOTSTRAP_OPERATOR_TOKEN"
		}
		return "the operator token of an earlier start"
	}
	return "the token “" + tok.Name + "”"
}

package pages

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/openid"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/secret"
	"github.com/usherhq/usher/signin"
	"github.com/usherhq/usher/sso"
	"github.com/usherhq/usher/web/view"
)

// deviceCookie is the person-facing pages' cookie besides the session's.
const (
	// deviceCookie marks a browser that signed in before: it keeps its own
	// failure counter, so guesses from elsewhere cannot lock its owner out.
	deviceCookie = "usher_device"
)

// signinData is what the sign-in, account and registration pages show.
type signinData struct {
	Identifier        string
	IdentifierIsEmail bool
	Step              signin.Step
	Connection        string
	RegistrationOpen  bool
	OneTime           string
	// Next is where a page that needed a sign-in sends the person after it.
	Next       string
	RetryAfter string

	Person   usher.Person
	Account  usher.Account
	RoleName string
	PlanName string
	Tenants  []tenantRow
	Sessions []sessionRow

	RegistersBy     string
	Values          map[string]string
	Departments     []usher.Attribute
	Languages       []view.LangOption
	FixedDepartment string
	LinkName        string
}

type tenantRow struct {
	Name, URL, Why  string
	Current, Usable bool
}

type sessionRow struct {
	Device, Source, Since, LastUsed string
	Current                         bool
}

func (h *Handler) setCookie(w http.ResponseWriter, name, value string, maxAge time.Duration) {
	c := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: h.links.SecureCookies(), SameSite: http.SameSiteLaxMode}
	if h.links.BaseDomain != "" {
		// One sign-in serves every tenant's subdomain.
		c.Domain = h.links.BaseDomain
	}
	switch {
	case maxAge > 0:
		c.MaxAge = int(maxAge.Seconds())
	case maxAge < 0:
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

// current returns the signed-in session valid in tn.
func (h *Handler) current(r *http.Request, tn usher.Tenant) (signin.Current, error) {
	return view.Session(r, h.auth, h.st, tn)
}

func (h *Handler) signinPage(tn usher.Tenant, mode string) pageData {
	return pageData{Page: "signin", Title: "Sign in", Tenant: tn, Mode: mode,
		signinData: signinData{RegistrationOpen: tn.Settings.Registration != "off"}}
}

// handleSignInPage is the tenant's front door: the identifier step, or the
// person's own page when already signed in.
func (h *Handler) SignInPage(w http.ResponseWriter, r *http.Request) {
	tn, ok := h.tenantPage(w, r)
	if !ok {
		return
	}
	// prompt=login (from the OpenID Connect provider) asks for a new
	// sign-in even when the browser is signed in.
	if _, err := h.current(r, tn); err == nil && r.URL.Query().Get("prompt") != "login" {
		to := h.safeNext(tn, r.URL.Query().Get("next"))
		if to == "" {
			to = h.links.TenantBase(tn) + "account"
		}
		http.Redirect(w, r, to, http.StatusSeeOther)
		return
	}
	d := h.signinPage(tn, "identifier")
	d.Next = h.safeNext(tn, r.URL.Query().Get("next"))
	// Coming from activation, the identifier just activated is filled in;
	// a product's login_hint fills it in too.
	if id := strings.TrimSpace(r.URL.Query().Get("identifier")); len(id) <= 320 {
		d.Identifier = id
	}
	if hint := clip(strings.TrimSpace(r.URL.Query().Get("login_hint")), 200); hint != "" {
		d.Identifier = hint
	}
	if r.URL.Query().Has("signed_out") {
		d.Notice = "You are signed out."
	}
	h.render(w, r, http.StatusOK, d)
}

// handleIdentify answers the identifier step as seed 000 describes.
func (h *Handler) Identify(w http.ResponseWriter, r *http.Request) {
	tn, ok := h.tenantPage(w, r)
	if !ok {
		return
	}
	id := r.PostFormValue("identifier")
	step, err := h.auth.Identify(r.Context(), tn, id)
	d := h.signinPage(tn, step.Kind)
	d.Identifier, d.Step, d.Connection = step.Identifier, step, step.Connection
	d.Next = h.safeNext(tn, r.PostFormValue("next"))
	d.IdentifierIsEmail = strings.Contains(step.Identifier, "@")
	if err != nil {
		if h.fieldError(w, r, &d, err, "identifier") {
			d.Mode = "identifier"
			h.render(w, r, http.StatusUnprocessableEntity, d)
		}
		return
	}
	if step.Kind == signin.StepSSO && step.ConnectionID != "" {
		// The hand-over: at once, and by the page's link for whoever
		// stops refreshes.
		// An unknown person the tenant would take registers through it.
		purpose := sso.PurposeSignIn
		if step.CanRegister {
			purpose = sso.PurposeRegister
		}
		d.StartURL = h.ssoStartURL(tn, step.ConnectionID, purpose, d.Next, step.Identifier)
		d.Refresh = d.StartURL
	}
	h.render(w, r, http.StatusOK, d)
}

// handlePassword is the password step.
func (h *Handler) Password(w http.ResponseWriter, r *http.Request) {
	tn, ok := h.tenantPage(w, r)
	if !ok {
		return
	}
	id, pw := strings.TrimSpace(r.PostFormValue("identifier")), r.PostFormValue("password")
	device := view.Cookie(r, deviceCookie)
	newDevice := device == "" || len(device) > 100
	if newDevice {
		device, _ = secret.New()
	}
	res, err := h.auth.SignIn(r.Context(), tn, signin.Attempt{Identifier: id, Password: pw, Source: view.ClientIP(r), UserAgent: r.UserAgent(), Device: device})
	d := h.signinPage(tn, "password")
	d.Identifier, d.Next = id, h.safeNext(tn, r.PostFormValue("next"))
	var te *signin.ThrottledError
	switch {
	case errors.As(err, &te):
		h.throttled(w, r, tn, te)
		return
	case errors.Is(err, signin.ErrCredentials):
		d.Errors = map[string]string{"form": "The identifier or the password is not right."}
		h.render(w, r, http.StatusUnauthorized, d)
		return
	case err != nil:
		if h.fieldError(w, r, &d, err, "password") {
			h.render(w, r, http.StatusUnprocessableEntity, d)
		}
		return
	case res.MustChoose:
		d.Mode, d.OneTime, d.Title = "choose", pw, "Choose your own password"
		h.render(w, r, http.StatusOK, d)
		return
	}
	h.signedIn(w, r, tn, res, device, newDevice)
}

// signedIn sets the session cookie (and the device cookie on a browser
// new to it) and sends the person on.
func (h *Handler) signedIn(w http.ResponseWriter, r *http.Request, tn usher.Tenant, res signin.Result, device string, newDevice bool) {
	h.startSession(w, r, tn, res, device, newDevice, r.PostFormValue("next"))
}

// startSession sets the cookies of a new session and sends the person to
// next (a path of the tenant's pages), or to their account page.
func (h *Handler) startSession(w http.ResponseWriter, r *http.Request, tn usher.Tenant, res signin.Result, device string, newDevice bool, next string) {
	// A cookie from before this sign-in is replaced, never reused.
	if old := view.Cookie(r, view.SessionCookie); old != "" {
		_ = h.auth.SignOut(r.Context(), old)
	}
	h.setCookie(w, view.SessionCookie, res.Secret, 0)
	if newDevice {
		h.setCookie(w, deviceCookie, device, 400*24*time.Hour)
	}
	to := h.safeNext(tn, next)
	if to == "" {
		to = h.links.TenantBase(tn) + "account"
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// safeNext keeps a "next" address only when it is a path of tn's own pages
// on this server, so sign-in cannot be made to send a person elsewhere.
func (h *Handler) safeNext(tn usher.Tenant, next string) string {
	if next == "" || len(next) > 2000 || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return ""
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return ""
	}
	prefix := "/t/" + tn.Slug + "/"
	if h.links.BaseDomain == "" && !strings.HasPrefix(u.Path, prefix) {
		return ""
	}
	return next
}

// handleChoose replaces a one-time password with the person's own, then
// signs them in.
func (h *Handler) Choose(w http.ResponseWriter, r *http.Request) {
	tn, ok := h.tenantPage(w, r)
	if !ok {
		return
	}
	id, otp, pw := strings.TrimSpace(r.PostFormValue("identifier")), r.PostFormValue("one_time"), r.PostFormValue("password")
	d := h.signinPage(tn, "choose")
	d.Identifier, d.OneTime, d.Title = id, otp, "Choose your own password"
	d.Next = h.safeNext(tn, r.PostFormValue("next"))
	if pw != r.PostFormValue("confirm") {
		d.Errors = map[string]string{"confirm": "The two passwords are not the same."}
		h.render(w, r, http.StatusUnprocessableEntity, d)
		return
	}
	signedIn, err := view.SignedIn(r, h.auth, h.st)
	if err != nil {
		h.view.Internal(w, r, "one-time password: session", err)
		return
	}
	a, err := h.svc.ActivateWithOneTimePassword(r.Context(), tn, id, otp, pw, signedIn, view.ClientIP(r))
	if err != nil {
		if errors.Is(err, provision.ErrCodeInvalid) {
			// The one-time password no longer works: start over.
			d = h.signinPage(tn, "identifier")
			d.Identifier = id
			d.Errors = map[string]string{"form": "The one-time password no longer works. Sign in again, or ask your administrator for a new one."}
			h.render(w, r, http.StatusUnprocessableEntity, d)
			return
		}
		if h.wasThrottled(w, r, tn, err) {
			return
		}
		if h.fieldError(w, r, &d, err, "password") {
			h.render(w, r, http.StatusUnprocessableEntity, d)
		}
		return
	}
	device := view.Cookie(r, deviceCookie)
	newDevice := device == "" || len(device) > 100
	if newDevice {
		device, _ = secret.New()
	}
	res, err := h.auth.Start(r.Context(), tn, a, view.ClientIP(r), r.UserAgent(), device)
	if err != nil {
		h.failPage(w, r, tn, err)
		return
	}
	h.signedIn(w, r, tn, res, device, newDevice)
}

func (h *Handler) SignOut(w http.ResponseWriter, r *http.Request) {
	tn, ok := h.tenantPage(w, r)
	if !ok {
		return
	}
	// The products signed in through this session that asked for
	// front-channel logout are framed by the signed-out page.
	var frames []string
	if cur, err := h.current(r, tn); err == nil && h.oid != nil {
		if frames, err = h.oid.FrontChannelFrames(r.Context(), tn, cur.Session); err != nil {
			h.failPage(w, r, tn, err)
			return
		}
	}
	if v := view.Cookie(r, view.SessionCookie); v != "" {
		if err := h.auth.SignOut(r.Context(), v); err != nil {
			h.failPage(w, r, tn, err)
			return
		}
	}
	h.setCookie(w, view.SessionCookie, "", -1)
	to := h.links.TenantBase(tn) + "?signed_out"
	if len(frames) > 0 {
		h.SignedOut(w, r, tn, openid.SignedOut{Frames: frames, Continue: to})
		return
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// SignedIn resolves the tenant and session of a page that needs one; without one
// the person is sent to the sign-in page.
func (h *Handler) SignedIn(w http.ResponseWriter, r *http.Request) (usher.Tenant, signin.Current, bool) {
	tn, ok := h.tenantPage(w, r)
	if !ok {
		return tn, signin.Current{}, false
	}
	cur, err := h.current(r, tn)
	switch {
	case errors.Is(err, signin.ErrNeedsSSO):
		d := h.signinPage(tn, "sso")
		next := ""
		if r.Method == http.MethodGet {
			next = r.URL.RequestURI()
		}
		if c, err := h.accountConnection(r, tn); err != nil {
			h.failPage(w, r, tn, err)
			return tn, cur, false
		} else if c != nil {
			d.Connection, d.StartURL = c.Name, h.ssoStartURL(tn, c.ID, sso.PurposeSignIn, next, "")
		}
		h.render(w, r, http.StatusForbidden, d)
		return tn, cur, false
	case errors.Is(err, signin.ErrNoSession):
		to := h.links.TenantBase(tn)
		if r.Method == http.MethodGet {
			// Back here after signing in.
			to += "?next=" + url.QueryEscape(r.URL.RequestURI())
		}
		http.Redirect(w, r, to, http.StatusSeeOther)
		return tn, cur, false
	case err != nil:
		h.failPage(w, r, tn, err)
		return tn, cur, false
	}
	return tn, cur, true
}

// handleAccount is the signed-in person's own page.
func (h *Handler) Account(w http.ResponseWriter, r *http.Request) {
	tn, cur, ok := h.SignedIn(w, r)
	if !ok {
		return
	}
	d, err := h.accountPage(r.Context(), tn, cur)
	if err != nil {
		h.failPage(w, r, tn, err)
		return
	}
	switch {
	case r.URL.Query().Has("password_changed"):
		d.Notice = "Your password is changed. Your other sessions have ended."
	case r.URL.Query().Has("ended"):
		d.Notice = "You are signed out everywhere else."
	case r.URL.Query().Has("revoked"):
		d.Notice = "The link is revoked: usher no longer holds its access, and products can no longer use it."
	}
	h.render(w, r, http.StatusOK, d)
}

func (h *Handler) accountPage(ctx context.Context, tn usher.Tenant, cur signin.Current) (pageData, error) {
	d := pageData{Page: "account", Title: "Your account", Tenant: tn}
	rd := h.st.Read()
	p, err := rd.Person(ctx, tn.ID, cur.Account.PersonID)
	if err != nil {
		return d, err
	}
	d.Person, d.Account = p, cur.Account
	if cur.Account.AuthSystem == usher.AuthConnection {
		if c, err := rd.Connection(ctx, tn.ID, cur.Account.ConnectionID); err == nil {
			d.ConnectionName = c.Name
		}
	}
	if cur.Account.RoleID != "" {
		if a, err := rd.Attribute(ctx, tn.ID, usher.KindRole, cur.Account.RoleID); err == nil {
			d.RoleName = a.Name
		}
	}
	if pl, err := rd.Plan(ctx, tn.ID, cur.Account.PlanID); err == nil {
		d.PlanName = pl.Name
	}
	tenants, err := h.auth.Tenants(ctx, cur)
	if err != nil {
		return d, err
	}
	for _, t := range tenants {
		row := tenantRow{Name: t.Name, URL: h.links.TenantBase(usher.Tenant{Slug: t.Slug}) + "account", Current: t.TenantID == tn.ID}
		switch {
		case t.AccountState != usher.StateActive:
			row.Why = "account " + t.AccountState
		case t.AuthSystem != cur.Session.Method:
			row.Why = "signs in with its single sign-on"
		default:
			row.Usable = true
		}
		d.Tenants = append(d.Tenants, row)
	}
	if d.Linked, err = h.linkRows(ctx, tn, cur.Account.ID); err != nil {
		return d, err
	}
	sessions, err := h.auth.Sessions(ctx, cur)
	if err != nil {
		return d, err
	}
	for _, x := range sessions {
		d.Sessions = append(d.Sessions, sessionRow{Device: browserName(x.UserAgent), Source: x.Source, Since: x.CreatedAt.Format("2 Jan 2006 15:04 MST"),
			LastUsed: x.LastSeenAt.Format("2 Jan 2006 15:04 MST"), Current: x.ID == cur.Session.ID})
	}
	return d, nil
}

// browsers and systems name a session from its User-Agent, first match wins.
var (
	browsers = [][2]string{{"Edg/", "Edge"}, {"Firefox/", "Firefox"}, {"Chrome/", "Chrome"}, {"Safari/", "Safari"}, {"curl/", "curl"}}
	systems  = [][2]string{{"Android", "Android"}, {"iPhone", "iPhone"}, {"iPad", "iPad"}, {"Windows", "Windows"}, {"Mac OS X", "macOS"}, {"Linux", "Linux"}}
)

// browserName gives a session a recognisable name from its User-Agent.
func browserName(ua string) string {
	find := func(table [][2]string) string {
		for _, c := range table {
			if strings.Contains(ua, c[0]) {
				return c[1]
			}
		}
		return ""
	}
	b, os := find(browsers), find(systems)
	switch {
	case b != "" && os != "":
		return b + " on " + os
	case b != "":
		return b
	case os != "":
		return os
	}
	return "A browser"
}

func (h *Handler) ChangePassword(w http.ResponseWriter, r *http.Request) {
	tn, cur, ok := h.SignedIn(w, r)
	if !ok {
		return
	}
	d, err := h.accountPage(r.Context(), tn, cur)
	if err != nil {
		h.failPage(w, r, tn, err)
		return
	}
	old, pw := r.PostFormValue("old_password"), r.PostFormValue("password")
	if pw != r.PostFormValue("confirm") {
		d.Errors = map[string]string{"confirm": "The two passwords are not the same."}
		h.render(w, r, http.StatusUnprocessableEntity, d)
		return
	}
	err = h.auth.ChangePassword(r.Context(), tn, cur, old, pw, view.ClientIP(r))
	var te *signin.ThrottledError
	switch {
	case errors.As(err, &te):
		h.throttled(w, r, tn, te)
		return
	case err != nil:
		if h.fieldError(w, r, &d, err, "password") {
			h.render(w, r, http.StatusUnprocessableEntity, d)
		}
		return
	}
	http.Redirect(w, r, h.links.TenantBase(tn)+"account?password_changed", http.StatusSeeOther)
}

func (h *Handler) EndOthers(w http.ResponseWriter, r *http.Request) {
	tn, cur, ok := h.SignedIn(w, r)
	if !ok {
		return
	}
	if _, err := h.auth.EndOthers(r.Context(), tn, cur, view.ClientIP(r)); err != nil {
		h.failPage(w, r, tn, err)
		return
	}
	http.Redirect(w, r, h.links.TenantBase(tn)+"account?ended", http.StatusSeeOther)
}

// wasThrottled answers 429 and reports true when err is a throttle's refusal,
// wherever in the chain the password check made it.
func (h *Handler) wasThrottled(w http.ResponseWriter, r *http.Request, tn usher.Tenant, err error) bool {
	var te *signin.ThrottledError
	if !errors.As(err, &te) {
		return false
	}
	h.throttled(w, r, tn, te)
	return true
}

func (h *Handler) throttled(w http.ResponseWriter, r *http.Request, tn usher.Tenant, te *signin.ThrottledError) {
	secs := int(te.RetryAfter.Seconds() + 0.999)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	d := h.signinPage(tn, "throttled")
	d.Title = "Too many attempts"
	if secs < 120 {
		d.RetryAfter = strconv.Itoa(secs) + " seconds"
	} else {
		d.RetryAfter = strconv.Itoa((secs+59)/60) + " minutes"
	}
	h.render(w, r, http.StatusTooManyRequests, d)
}

// fieldError puts a person's input error next to its field (fallback when
// it names none) and reports true; other errors get the error page and false.
func (h *Handler) fieldError(w http.ResponseWriter, r *http.Request, d *pageData, err error, fallback string) bool {
	var es usher.Errors
	var ue *usher.Error
	switch {
	case errors.As(err, &es) && len(es) > 1:
		d.Errors = map[string]string{"form": "Please correct the fields marked below."}
		for _, e := range es {
			f := fieldOr(e.Field, fallback)
			d.Errors[f] = phrase(f, e.Message)
		}
		return true
	case errors.As(err, &ue) && (ue.Code == usher.CodeInvalid || ue.Code == usher.CodeConflict || (ue.Code == usher.CodeNotFound && ue.Field != "")):
		f := fieldOr(ue.Field, fallback)
		d.Errors = map[string]string{f: phrase(f, ue.Message)}
		return true
	}
	h.failPage(w, r, d.Tenant, err)
	return false
}

// phrase turns a field message ("is required in this tenant") into a
// sentence a person reads on its own ("Your first name is required.").
func phrase(field, msg string) string {
	names := map[string]string{"first_name": "Your first name", "last_name": "Your last name", "email": "The email address",
		"username": "The username", "phone": "The phone number", "department_id": "The department", "language": "The language",
		"password": "The password", "old_password": "The current password", "identifier": "The identifier",
		"job_profile_id": "A job profile", "role_id": "A role"}
	if field == "old_password" && strings.HasPrefix(msg, "is not your current password") {
		// Not "The current password is not your current password."
		return "That is not your current password."
	}
	// A person registering knows the organization, not what a tenant is.
	msg = strings.NewReplacer(" in this tenant", "", "of this tenant", "of this organization", "the tenant's", "this organization's",
		"the tenant", "this organization").Replace(msg)
	if strings.HasPrefix(msg, "must ") || strings.HasPrefix(msg, "is ") {
		if n, ok := names[field]; ok {
			msg = n + " " + msg
		}
	}
	return sentence(msg)
}

// failPage answers an error of the sign-in and registration pages that no
// field explains: refused (registration closed, seats full) with what
// happened, anything else as our fault.
func (h *Handler) failPage(w http.ResponseWriter, r *http.Request, tn usher.Tenant, err error) {
	h.view.Fail(w, r, err, func(status int, ue *usher.Error) {
		d := h.signinPage(tn, "closed")
		d.Title, d.Problem = "This did not work", sentence(ue.Message)
		if ue.Code == usher.CodeSeatsFull {
			d.Title, d.Problem = "No room for new accounts", "This organization has no free seat for a new account right now. Ask its administrator."
		}
		h.render(w, r, status, d)
	})
}

// accountConnection is the connection the signed-in identity's account in
// tn signs in through: its own, or the enforced one of its email's domain.
func (h *Handler) accountConnection(r *http.Request, tn usher.Tenant) (*usher.Connection, error) {
	identity, err := view.SignedIn(r, h.auth, h.st)
	if err != nil || identity == "" {
		return nil, err
	}
	a, err := h.st.Read().AccountByIdentity(r.Context(), tn.ID, identity)
	if errors.Is(err, usher.ErrNotFound) {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	if a.AuthSystem != usher.AuthConnection {
		return h.svc.Enforced(r.Context(), tn, a.Email)
	}
	c, err := h.sso.Connection(r.Context(), tn, a.ConnectionID)
	if errors.Is(err, sso.ErrDisabled) {
		return nil, nil
	}
	return &c, err
}

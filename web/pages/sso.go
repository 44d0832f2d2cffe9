package pages

import (
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/secret"
	"github.com/usherhq/usher/sso"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/web/view"
)

// ssoCookie holds the state of a sign-in through a connection, binding the
// identity provider's answer to the browser that asked.
const ssoCookie = "usher_sso"

// ssoData is what the pages of a sign-in through a connection show.
type ssoData struct {
	// Refresh sends the browser on at once (the hand-over to the identity
	// provider); a link on the page does the same for whoever needs it.
	Refresh string
	// StartURL starts the sign-in through the connection.
	StartURL string
	// Post is SAML's HTTP-POST binding: a form to the identity provider.
	Post *sso.Form
	// State is the kept answer's state (the department chooser).
	State string
	// Claims and Mapped are what "test this connection" shows.
	Claims []claimRow
	Mapped []claimRow
}

type claimRow struct{ Name, Value string }

// ssoStartURL is where a sign-in through connection id starts.
func (h *Handler) ssoStartURL(tn usher.Tenant, id, purpose, next, loginHint string) string {
	q := url.Values{}
	if purpose != "" && purpose != sso.PurposeSignIn {
		q.Set("purpose", purpose)
	}
	if next != "" {
		q.Set("next", next)
	}
	if loginHint != "" {
		q.Set("login_hint", loginHint)
	}
	u := h.links.TenantBase(tn) + "sso/" + url.PathEscape(id) + "/start"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// SSOStart sends the browser to the connection's identity provider. It is
// a GET, reached by a link or the hand-over's refresh: a form's redirect to
// another site would be stopped by the pages' form-action policy.
func (h *Handler) SSOStart(w http.ResponseWriter, r *http.Request) {
	tn, ok := h.tenantPage(w, r)
	if !ok {
		return
	}
	c, err := h.sso.Connection(r.Context(), tn, r.PathValue("id"))
	if err != nil {
		h.ssoFail(w, r, tn, err)
		return
	}
	q := r.URL.Query()
	purpose := q.Get("purpose")
	if purpose == "" {
		purpose = sso.PurposeSignIn
	}
	if purpose == sso.PurposeTest && !h.tenantAdmin(r, tn) {
		h.ssoRefused(w, r, tn, http.StatusForbidden, "Only the organization's administrators can test a connection", "Sign in to the console as an administrator, then start the test from the connection's page.")
		return
	}
	start, err := h.sso.Begin(r.Context(), tn, c, sso.Begin{Purpose: purpose, Next: h.safeNext(tn, q.Get("next")), LoginHint: clip(strings.TrimSpace(q.Get("login_hint")), 320)})
	if err != nil {
		h.ssoFail(w, r, tn, err)
		return
	}
	h.setCookie(w, ssoCookie, start.State, 15*time.Minute)
	if start.URL != "" {
		http.Redirect(w, r, start.URL, http.StatusSeeOther)
		return
	}
	d := h.ssoPage(tn, "post", "Continue to "+c.Name)
	d.Post = start.Form
	h.render(w, view.AllowFormTarget(r, origin(start.Form.Action)), http.StatusOK, d)
}

// origin is scheme://host of an address.
func origin(addr string) string {
	u, err := url.Parse(addr)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// SSOCallback is where an OpenID Connect provider sends the person back.
func (h *Handler) SSOCallback(w http.ResponseWriter, r *http.Request) {
	tn, ok := h.tenantPage(w, r)
	if !ok {
		return
	}
	ans, err := h.sso.Callback(r.Context(), tn, r.PathValue("id"), r.URL.Query(), view.Cookie(r, ssoCookie))
	h.finish(w, r, tn, ans, err, "")
}

// maxSAMLForm bounds the form a SAML identity provider posts.
const maxSAMLForm = 512 << 10

// SSOACS is SAML's Assertion Consumer Service. The identity provider's
// page posts here from its own site, so the browser's cookies do not come
// along: a sign-in usher started continues at SSODone, on this site.
func (h *Handler) SSOACS(w http.ResponseWriter, r *http.Request) {
	tn, ok := h.tenantPage(w, r)
	if !ok {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxSAMLForm)
	if err := r.ParseForm(); err != nil {
		h.ssoRefused(w, r, tn, http.StatusBadRequest, "This sign-in did not work", "The answer of your company's sign-in could not be read. Start again from the sign-in page.")
		return
	}
	res, err := h.sso.ACS(r.Context(), tn, r.PathValue("id"), r.PostForm)
	switch {
	case err != nil:
		h.finish(w, r, tn, sso.Answer{}, err, "")
	case res.Answer != nil:
		h.finish(w, r, tn, *res.Answer, nil, "")
	default:
		http.Redirect(w, r, res.DoneURL, http.StatusSeeOther)
	}
}

// SSODone completes a SAML sign-in in the browser that started it.
func (h *Handler) SSODone(w http.ResponseWriter, r *http.Request) {
	tn, ok := h.tenantPage(w, r)
	if !ok {
		return
	}
	ans, err := h.sso.Done(r.Context(), tn, r.PathValue("id"), r.URL.Query().Get("state"), view.Cookie(r, ssoCookie))
	h.finish(w, r, tn, ans, err, "")
}

// SSOChoose takes what the person chose where the identity provider sent
// nothing (a department the organization lets people choose).
func (h *Handler) SSOChoose(w http.ResponseWriter, r *http.Request) {
	tn, ok := h.tenantPage(w, r)
	if !ok {
		return
	}
	ans, err := h.sso.Resume(r.Context(), tn, r.PathValue("id"), r.PostFormValue("state"), view.Cookie(r, ssoCookie))
	h.finish(w, r, tn, ans, err, clip(r.PostFormValue("department_id"), 100))
}

// SSOMetadata is the connection's SAML service provider metadata, for the
// identity provider's administrator.
func (h *Handler) SSOMetadata(w http.ResponseWriter, r *http.Request) {
	tn, ok := h.tenantPage(w, r)
	if !ok {
		return
	}
	b, err := h.sso.Metadata(r.Context(), tn, r.PathValue("id"))
	if err != nil {
		if errors.Is(err, sso.ErrDisabled) {
			http.Error(w, "There is no SAML connection at this address.", http.StatusNotFound)
			return
		}
		h.view.Internal(w, r, "saml metadata", err)
		return
	}
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	w.Header().Set("Content-Disposition", `inline; filename="usher-metadata.xml"`)
	_, _ = w.Write(b)
}

// finish turns the identity provider's answer into a session: provision
// says which account (tied, activated or created just in time), signin
// opens the session. A test shows the answer and changes nothing.
func (h *Handler) finish(w http.ResponseWriter, r *http.Request, tn usher.Tenant, ans sso.Answer, err error, departmentID string) {
	h.setCookie(w, ssoCookie, "", -1)
	if err != nil {
		h.ssoFail(w, r, tn, err)
		return
	}
	if ans.Purpose == sso.PurposeTest {
		h.ssoTest(w, r, tn, ans)
		return
	}
	ctx := r.Context()
	res, err := h.svc.SignInThrough(ctx, tn, provision.SSOSignIn{Connection: ans.Connection, User: ans.User,
		Register: ans.Purpose == sso.PurposeRegister, DepartmentID: departmentID, Source: view.ClientIP(r)})
	var miss *provision.MissingError
	if errors.As(err, &miss) && len(miss.Choosable) > 0 && len(miss.Attributes) == 0 {
		state, err := h.sso.Hold(ctx, tn, ans)
		if err != nil {
			h.ssoFail(w, r, tn, err)
			return
		}
		h.setCookie(w, ssoCookie, state, 15*time.Minute)
		d := h.ssoPage(tn, "choose", "One more thing")
		d.State = state
		d.Action = h.links.TenantBase(tn) + "sso/" + url.PathEscape(ans.Connection.ID) + "/choose"
		if d.Departments, err = h.departments(r, tn); err != nil {
			h.view.Internal(w, r, "sso: departments", err)
			return
		}
		if departmentID != "" {
			d.Errors = map[string]string{"department_id": "Choose one of the departments listed."}
		}
		h.render(w, r, http.StatusOK, d)
		return
	}
	if err != nil {
		h.ssoFail(w, r, tn, err)
		return
	}
	device := view.Cookie(r, deviceCookie)
	newDevice := device == "" || len(device) > 100
	if newDevice {
		device, _ = secret.New()
	}
	started, err := h.auth.StartSSO(ctx, tn, res.Account, view.ClientIP(r), r.UserAgent(), device)
	if err != nil {
		h.failPage(w, r, tn, err)
		return
	}
	h.startSession(w, r, tn, started, device, newDevice, ans.Next)
}

// tenantAdmin reports whether the browser is signed in as an administrator
// of the tenant.
func (h *Handler) tenantAdmin(r *http.Request, tn usher.Tenant) bool {
	cur, err := h.current(r, tn)
	return err == nil && cur.Account.AdminRole != usher.AdminNone
}

// ssoTest shows an administrator what the identity provider sent and what
// usher reads from it; nothing is created or changed.
func (h *Handler) ssoTest(w http.ResponseWriter, r *http.Request, tn usher.Tenant, ans sso.Answer) {
	if !h.tenantAdmin(r, tn) {
		h.ssoRefused(w, r, tn, http.StatusForbidden, "Only the organization's administrators can test a connection", "Sign in to the console as an administrator, then start the test again.")
		return
	}
	d := h.ssoPage(tn, "test", "The connection works")
	d.ConnectionName = ans.Connection.Name
	for name, vals := range ans.Claims {
		d.Claims = append(d.Claims, claimRow{Name: name, Value: clip(strings.Join(vals, ", "), 500)})
	}
	sort.Slice(d.Claims, func(i, j int) bool { return d.Claims[i].Name < d.Claims[j].Name })
	u := ans.User
	for _, f := range []claimRow{{"Subject", u.Subject}, {"Email", u.Email}, {"First name", u.FirstName}, {"Last name", u.LastName},
		{"Phone", u.Phone}, {"Username", u.Username}, {"Department", u.Department}, {"Job profile", u.JobProfile},
		{"Language", u.Language}, {"Groups", strings.Join(u.Groups, ", ")}} {
		if f.Value == "" {
			f.Value = "—"
		}
		d.Mapped = append(d.Mapped, f)
	}
	d.StartURL = h.links.TenantBase(tn) + "admin/connections/" + url.PathEscape(ans.Connection.ID)
	h.render(w, r, http.StatusOK, d)
}

func (h *Handler) ssoPage(tn usher.Tenant, mode, title string) pageData {
	return pageData{Page: "sso", Title: title, Tenant: tn, Mode: mode}
}

// ssoRefused is a page that says what went wrong and what to do.
func (h *Handler) ssoRefused(w http.ResponseWriter, r *http.Request, tn usher.Tenant, status int, title, problem string) {
	d := h.signinPage(tn, "closed")
	d.Title, d.Problem = title, problem
	h.render(w, r, status, d)
}

// ssoFail explains a sign-in through a connection that did not work. What
// the identity provider got wrong is logged for the administrator, not
// shown: the person is told whom to ask.
func (h *Handler) ssoFail(w http.ResponseWriter, r *http.Request, tn usher.Tenant, err error) {
	var pe *sso.ProviderError
	var miss *provision.MissingError
	var ue *usher.Error
	switch {
	case errors.As(err, &pe):
		h.log.WarnContext(r.Context(), "sso sign-in refused", "tenant", tn.Slug, "connection", r.PathValue("id"), "why", pe.Error())
		h.ssoRefused(w, r, tn, http.StatusBadGateway, "Your company's sign-in did not work",
			"Your company's identity provider did not sign you in, or its answer could not be checked. Try again; if it keeps failing, tell your administrator the time it happened.")
	case errors.As(err, &miss):
		h.ssoRefused(w, r, tn, http.StatusUnprocessableEntity, "Your account cannot be created yet",
			"Your company account does not tell us everything this organization needs: "+miss.Error()+". Ask your administrator to complete the single sign-on set-up.")
	case errors.Is(err, sso.ErrExpired) || errors.Is(err, sso.ErrBrowser):
		h.ssoRefused(w, r, tn, http.StatusBadRequest, "Start your sign-in again", sentence(err.(*usher.Error).Message))
	case errors.Is(err, sso.ErrDisabled):
		h.ssoRefused(w, r, tn, http.StatusNotFound, "This sign-in is not available", "This organization's single sign-on is not set up at this address. Sign in from the sign-in page.")
	case errors.As(err, &ue) && ue.Code == usher.CodeSeatsFull:
		h.ssoRefused(w, r, tn, http.StatusConflict, "No free licence",
			"There is no free licence for you on "+planOf(ue.Message)+" right now, so your account cannot be created. Ask your administrator.")
	case errors.As(err, &ue) && (ue.Code == usher.CodeForbidden || ue.Code == usher.CodeInvalid || ue.Code == usher.CodeConflict):
		h.ssoRefused(w, r, tn, http.StatusForbidden, "You cannot sign in here", sentence(ue.Message))
	default:
		h.failPage(w, r, tn, err)
	}
}

// planOf picks the plan's name out of the seats' refusal (`plan "X" has no
// free seat ...`).
func planOf(msg string) string {
	if i := strings.Index(msg, `"`); i >= 0 {
		if j := strings.Index(msg[i+1:], `"`); j >= 0 {
			return "the plan " + msg[i:i+j+2]
		}
	}
	return "your plan"
}

// departments are the departments a person may choose.
func (h *Handler) departments(r *http.Request, tn usher.Tenant) ([]usher.Attribute, error) {
	deps, _, err := h.st.Read().Attributes(r.Context(), tn.ID, usher.KindDepartment, true, store.ListOptions{Limit: 500})
	return deps, err
}

package pages

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/signin"
	"github.com/usherhq/usher/signup"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/web/view"
)

// registration is how a registration form arrives: the tenant's own, or a
// sign-up link's with the defaults it fixes.
type registration struct {
	via      provision.Via
	linkName string
	action   string
}

// registerForm fills the registration form's choices.
func (h *Handler) registerForm(ctx context.Context, tn usher.Tenant, reg registration, values map[string]string) (pageData, error) {
	d := pageData{Page: "register", Title: "Create your account", Tenant: tn, Mode: "form", Action: reg.action}
	d.RegistersBy = tn.Settings.RegistersBy()
	d.LinkName = reg.linkName
	if values == nil {
		values = map[string]string{}
	}
	if values["language"] == "" {
		values["language"] = tn.Settings.DefaultLanguage
	}
	d.Values = values
	d.Languages = view.Languages(tn.Settings.Languages)
	rd := h.st.Read()
	if dep := reg.via.Defaults.DepartmentID; dep != "" {
		a, err := rd.Attribute(ctx, tn.ID, usher.KindDepartment, dep)
		if err != nil {
			return d, err
		}
		d.FixedDepartment = a.Name
	} else if tn.Settings.RegistrationDepartment {
		deps, _, err := rd.Attributes(ctx, tn.ID, usher.KindDepartment, true, store.ListOptions{Limit: 500})
		if err != nil {
			return d, err
		}
		d.Departments = deps
	}
	return d, nil
}

// handleRegisterGet shows the tenant's registration form, when it takes registrations.
func (h *Handler) RegisterGet(w http.ResponseWriter, r *http.Request) {
	tn, ok := h.tenantPage(w, r)
	if !ok {
		return
	}
	if tn.Settings.Registration == "off" {
		h.failPage(w, r, tn, provision.ErrRegistrationClosed)
		return
	}
	h.showRegister(w, r, tn, registration{action: h.links.TenantBase(tn) + "register"}, map[string]string{"email": r.URL.Query().Get("email")})
}

func (h *Handler) showRegister(w http.ResponseWriter, r *http.Request, tn usher.Tenant, reg registration, values map[string]string) {
	d, err := h.registerForm(r.Context(), tn, reg, values)
	if err != nil {
		h.failPage(w, r, tn, err)
		return
	}
	h.render(w, r, http.StatusOK, d)
}

// handleRegisterPost registers through the tenant's own registration setting.
func (h *Handler) RegisterPost(w http.ResponseWriter, r *http.Request) {
	tn, ok := h.tenantPage(w, r)
	if !ok {
		return
	}
	h.register(w, r, tn, registration{action: h.links.TenantBase(tn) + "register"})
}

// register creates the account through the one provisioning path and
// answers "check your messages". When the tenant does not let pages reveal
// whether an account exists, an address that has one gets the same answer.
func (h *Handler) register(w http.ResponseWriter, r *http.Request, tn usher.Tenant, reg registration) {
	values := map[string]string{}
	for _, k := range []string{"first_name", "last_name", "email", "username", "phone", "department_id", "language"} {
		values[k] = strings.TrimSpace(r.PostFormValue(k))
	}
	d, err := h.registerForm(r.Context(), tn, reg, values)
	if err != nil {
		h.failPage(w, r, tn, err)
		return
	}
	if err := h.auth.AllowRegistration(r.Context(), view.ClientIP(r)); err != nil {
		var te *signin.ThrottledError
		if errors.As(err, &te) {
			h.throttled(w, r, tn, te)
			return
		}
		h.failPage(w, r, tn, err)
		return
	}
	in := provision.Registration{FirstName: values["first_name"], LastName: values["last_name"], Email: values["email"], Username: values["username"],
		Phone: values["phone"], DepartmentID: values["department_id"], Language: values["language"], Source: view.ClientIP(r)}
	_, err = h.svc.Register(r.Context(), tn, in, reg.via)
	done := pageData{Page: "register", Title: "Check your messages", Tenant: tn, Mode: "registered"}
	done.Identifier, done.Undelivered = values["email"], !h.delivers[usher.ChannelEmail]
	if tn.Settings.RegistersBy() == usher.RegistrationByUsernamePhone {
		done.Identifier, done.Undelivered = values["phone"], !h.delivers[usher.ChannelSMS]
	}
	if done.Undelivered {
		done.Title = "Ask for your activation link"
	}
	if reg.via.LinkID != "" && isLinkRefusal(err) {
		// The link ran out while the form was open.
		h.linkRefused(w, r, tn, err)
		return
	}
	var ue *usher.Error
	if errors.As(err, &ue) && ue.Code == usher.CodeConflict && isLoginField(ue.Field) && !tn.Settings.RevealAccounts {
		// Said the same as a success: the owner of the address learns nothing new.
		h.render(w, r, http.StatusOK, done)
		return
	}
	if err != nil {
		if errors.As(err, &ue) && ue.Code == usher.CodeConflict && isLoginField(ue.Field) {
			d.Errors = map[string]string{ue.Field: "There is already an account for this " + strings.ReplaceAll(ue.Field, "_", " ") + ". Sign in instead."}
			h.render(w, r, http.StatusConflict, d)
			return
		}
		if h.fieldError(w, r, &d, err, "form") {
			unasked(&d)
			h.render(w, r, http.StatusUnprocessableEntity, d)
		}
		return
	}
	h.render(w, r, http.StatusOK, done)
}

// askedFor names what the registration form may ask for that a person
// registering could be missing, by field.
var askedFor = map[string]string{"department_id": "a department", "job_profile_id": "a job profile", "role_id": "a role",
	"plan_id": "a plan", "language": "a language"}

// unasked explains problems with fields the form does not show (a tenant
// that requires a job profile but gives registrations none, say): the
// person cannot mend them, so the page says whom to ask instead of
// pointing at fields that are not there.
func unasked(d *pageData) {
	shown := map[string]bool{"first_name": true, "last_name": true, "email": true, "username": true, "phone": true,
		"department_id": len(d.Departments) > 0, "language": len(d.Languages) > 1, "form": true}
	var missing []string
	for _, f := range []string{"department_id", "job_profile_id", "role_id", "plan_id", "language"} {
		if d.Errors[f] != "" && !shown[f] {
			missing = append(missing, askedFor[f])
		}
	}
	if len(missing) == 0 {
		return
	}
	list := missing[0]
	if n := len(missing); n > 1 {
		list = strings.Join(missing[:n-1], ", ") + " and " + missing[n-1]
	}
	msg := "This organization needs " + list + " for every new account, which this form cannot ask for. Ask its administrator to set up registration."
	for f := range d.Errors {
		if shown[f] && f != "form" {
			msg += " Please also correct the fields marked below."
			break
		}
	}
	d.Errors["form"] = msg
}

func isLoginField(f string) bool { return f == "email" || f == "username" || f == "phone" }

func isLinkRefusal(err error) bool {
	for _, e := range []error{usher.ErrSignupLinkExpired, usher.ErrSignupLinkUsedUp, usher.ErrSignupLinkDisabled, usher.ErrSignupLinkUnknown} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// handleJoinGet opens the registration form of a sign-up link (seed 003),
// with the link's defaults fixed. Links work whatever the tenant's own
// registration setting says: an administrator handed them out.
func (h *Handler) JoinGet(w http.ResponseWriter, r *http.Request) {
	tn, reg, ok := h.joinLink(w, r)
	if !ok {
		return
	}
	h.showRegister(w, r, tn, reg, nil)
}

func (h *Handler) JoinPost(w http.ResponseWriter, r *http.Request) {
	tn, reg, ok := h.joinLink(w, r)
	if !ok {
		return
	}
	h.register(w, r, tn, reg)
}

// joinLink resolves the sign-up link in the path, or answers with a page
// that says plainly why it does not work.
func (h *Handler) joinLink(w http.ResponseWriter, r *http.Request) (usher.Tenant, registration, bool) {
	tn, ok := h.tenantPage(w, r)
	if !ok {
		return tn, registration{}, false
	}
	code := r.PathValue("code")
	l, err := h.signup.SignupLinkByCode(r.Context(), tn, code)
	if err != nil {
		h.linkRefused(w, r, tn, err)
		return tn, registration{}, false
	}
	return tn, registration{via: provision.Via{LinkID: l.ID, Defaults: signup.SignupDefaults(l)}, linkName: l.Name,
		action: h.links.TenantBase(tn) + "join/" + code}, true
}

// linkRefused explains a sign-up link that no longer works.
func (h *Handler) linkRefused(w http.ResponseWriter, r *http.Request, tn usher.Tenant, err error) {
	var title string
	status := http.StatusGone
	switch {
	case errors.Is(err, usher.ErrSignupLinkExpired):
		title = "This sign-up link has expired"
	case errors.Is(err, usher.ErrSignupLinkUsedUp):
		title = "This sign-up link is used up"
	case errors.Is(err, usher.ErrSignupLinkDisabled):
		title = "This sign-up link is switched off"
	case errors.Is(err, usher.ErrSignupLinkUnknown):
		title, status = "This sign-up link does not exist", http.StatusNotFound
	default:
		h.failPage(w, r, tn, err)
		return
	}
	var ue *usher.Error
	errors.As(err, &ue)
	d := h.signinPage(tn, "closed")
	d.Title, d.Problem = title, sentence(ue.Message)+" Ask whoever gave you the link for a new one."
	h.render(w, r, status, d)
}

// Package people is the tenant console's directory: the overview, people
// and their accounts (adding, the new-user wizard, changes, actions one
// at a time or in bulk, linked accounts on a person's page),
// organizations with their sites and contacts, and the messages usher
// made for people.
package people

import (
	"context"
	"embed"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/linked"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/web/console"
	"github.com/usherhq/usher/web/console/audit"
	"github.com/usherhq/usher/web/console/external"
	"github.com/usherhq/usher/web/view"
)

//go:embed templates/*.html
var templateFS embed.FS

// pages are this package's console pages.
var pages = console.Pages(templateFS, "home", "people", "person", "person_new", "user_new", "wizard", "one_time", "orgs", "org", "messages", "message")

// Handler serves the directory's pages.
type Handler struct {
	*console.Console
	svc    *provision.Service
	linked *linked.Service
}

// New returns the directory's handler; lk is nil on a server without
// linked accounts.
func New(con *console.Console, svc *provision.Service, lk *linked.Service) *Handler {
	return &Handler{Console: con, svc: svc, linked: lk}
}

// accountState is the state the console shows: invited accounts whose
// invitation ran out show "expired".
func accountState(a *usher.Account) string {
	switch {
	case a == nil:
		return "none"
	case a.State == usher.StateInvited && a.Invitation == usher.InvitationExpired:
		return "expired"
	}
	return a.State
}

type homeData struct {
	Counts map[string]int
	Total  int
	Plans  []usher.Plan
	Events []audit.Row
}

// Home is the console's overview: accounts by state, seats, the latest changes.
func (h *Handler) Home(w http.ResponseWriter, r *http.Request, c *console.Call) {
	ctx := r.Context()
	rd := h.Store.Read()
	counts, err := rd.AccountCounts(ctx, c.Tenant.ID)
	if err != nil {
		h.Fail(w, r, c, err)
		return
	}
	plans, _, err := rd.Plans(ctx, c.Tenant.ID, true, store.ListOptions{Limit: 100})
	if err != nil {
		h.Fail(w, r, c, err)
		return
	}
	evs, _, err := rd.AuditEvents(ctx, c.Tenant.ID, store.AuditFilter{}, store.ListOptions{Limit: 10, Newest: true})
	if err != nil {
		h.Fail(w, r, c, err)
		return
	}
	d := homeData{Counts: counts, Plans: plans, Events: audit.Names(ctx, h.Console, c).Rows(evs)}
	for _, n := range counts {
		d.Total += n
	}
	c.Data.Title, c.Data.Section, c.Data.Data, c.Data.Notice = "Overview", "home", d, h.Flash(w, r)
	h.View.Console(w, r, http.StatusOK, pages["home"], c.Data)
}

// personRow is a person in a list, with their account.
type personRow struct {
	Person  usher.Person
	Account *usher.Account
	State   string
	Org     string
}

type peopleData struct {
	Rows    []personRow
	Next    string
	Orgs    []usher.Organization
	Choices console.Choices
}

// People lists employees and contacts, filtered and paged in the database.
func (h *Handler) People(w http.ResponseWriter, r *http.Request, c *console.Call) {
	ctx := r.Context()
	q := r.URL.Query()
	for _, k := range []string{"q", "organization_id", "department_id", "state", "plan_id", "role_id"} {
		c.Data.Values[k] = strings.TrimSpace(q.Get(k))
	}
	v := c.Data.Values
	f := store.PersonFilter{Query: v["q"], OrganizationID: v["organization_id"], DepartmentID: v["department_id"], PlanID: v["plan_id"], RoleID: v["role_id"]}
	switch v["state"] {
	case "", "active", "invited", "suspended", "deactivated", "none":
		f.AccountState = v["state"]
	default:
		c.Data.Errors["state"] = "Choose a state from the list."
		c.Data.Errors["form"] = "Account: choose a state from the list."
	}
	rd := h.Store.Read()
	persons, next, err := rd.Persons(ctx, c.Tenant.ID, f, console.PageOf(r))
	if err != nil {
		h.Fail(w, r, c, err)
		return
	}
	d := peopleData{Next: console.NextURL(r, next)}
	if d.Choices, err = h.Choices(r, c.Tenant); err != nil {
		h.Fail(w, r, c, err)
		return
	}
	if d.Orgs, _, err = rd.Organizations(ctx, c.Tenant.ID, store.OrganizationFilter{}, store.ListOptions{Limit: 500}); err != nil {
		h.Fail(w, r, c, err)
		return
	}
	if d.Rows, err = h.personRows(ctx, c.Tenant, persons, d.Orgs); err != nil {
		h.Fail(w, r, c, err)
		return
	}
	c.Data.Title, c.Data.Section, c.Data.Data, c.Data.Notice = "People", "people", d, h.Flash(w, r)
	h.View.Console(w, r, http.StatusOK, pages["people"], c.Data)
}

func (h *Handler) personRows(ctx context.Context, tn usher.Tenant, persons []usher.Person, orgs []usher.Organization) ([]personRow, error) {
	ids := make([]string, len(persons))
	for i, p := range persons {
		ids[i] = p.ID
	}
	accts, err := h.Store.Read().AccountsOfPersons(ctx, tn.ID, ids)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	for _, o := range orgs {
		names[o.ID] = o.Name
	}
	now := h.Now()
	rows := make([]personRow, 0, len(persons))
	for _, p := range persons {
		row := personRow{Person: p, Org: names[p.OrganizationID]}
		if a, ok := accts[p.ID]; ok {
			if a.State == usher.StateInvited && (a.InviteExpiresAt == nil || !a.InviteExpiresAt.After(now)) {
				a.Invitation = usher.InvitationExpired
			}
			row.Account = &a
		}
		row.State = accountState(row.Account)
		rows = append(rows, row)
	}
	return rows, nil
}

type personData struct {
	Person        usher.Person
	Org           usher.Organization
	Account       *usher.Account
	State         string
	Relationships []relRow
	Events        []audit.Row
	Choices       console.Choices
	RoleName      string
	PlanName      string
	Department    string
	JobProfile    string
	Language      string // by its name: "English", not "en"
	PrimaryGroup  string
	OtherGroups   []string
	// ManagedBy names the provisioning source that manages the person.
	ManagedBy string
	// Links are the account's linked accounts in external systems;
	// LinkTo the active systems it has no live link to.
	Links  []external.LinkRow
	LinkTo []console.Option
}

type relRow struct {
	Site  usher.Organization
	Roles []string
}

// Person is a person's page: details, contact roles, account and history.
func (h *Handler) Person(w http.ResponseWriter, r *http.Request, c *console.Call) {
	if _, err := h.personPage(r, c, r.PathValue("id")); err != nil {
		h.Fail(w, r, c, err)
		return
	}
	c.Data.Notice = h.Flash(w, r)
	h.View.Console(w, r, http.StatusOK, pages["person"], c.Data)
}

func (h *Handler) personPage(r *http.Request, c *console.Call, id string) (personData, error) {
	ctx := r.Context()
	rd := h.Store.Read()
	var d personData
	p, err := rd.Person(ctx, c.Tenant.ID, id)
	if err != nil {
		return d, err
	}
	d.Person = p
	if d.Org, err = rd.Organization(ctx, c.Tenant.ID, p.OrganizationID); err != nil {
		return d, err
	}
	if a, err := rd.AccountOfPerson(ctx, c.Tenant.ID, p.ID); err == nil {
		if a.State == usher.StateInvited && (a.InviteExpiresAt == nil || !a.InviteExpiresAt.After(h.Now())) {
			a.Invitation = usher.InvitationExpired
		}
		d.Account = &a
	} else if !errors.Is(err, usher.ErrNotFound) {
		return d, err
	}
	d.State = accountState(d.Account)
	if p.ManagedBy != "" {
		d.ManagedBy = "a provisioning source that no longer exists"
		if tok, err := rd.Token(ctx, p.ManagedBy); err == nil && tok.TenantID == c.Tenant.ID {
			d.ManagedBy = tok.Name
			if tok.RevokedAt != nil {
				d.ManagedBy += " (its token is revoked: changes here are kept)"
			}
		}
	}
	if d.Choices, err = h.Choices(r, c.Tenant); err != nil {
		return d, err
	}
	name := func(list []usher.Attribute, id string) string {
		for _, x := range list {
			if x.ID == id {
				return x.Name
			}
		}
		return ""
	}
	d.Department, d.JobProfile = name(d.Choices.Departments, p.DepartmentID), name(d.Choices.JobProfiles, p.JobProfileID)
	if p.Language != "" {
		d.Language = view.LanguageName(p.Language)
	} else {
		d.Language = view.LanguageName(c.Tenant.Settings.DefaultLanguage) + " (the tenant's default)"
	}
	if d.Account != nil {
		d.RoleName = name(d.Choices.Roles, d.Account.RoleID)
		d.PrimaryGroup = name(d.Choices.Groups, d.Account.PrimaryGroupID)
		for _, g := range d.Account.GroupIDs {
			if n := name(d.Choices.Groups, g); n != "" && g != d.Account.PrimaryGroupID {
				d.OtherGroups = append(d.OtherGroups, n)
			}
		}
		for _, pl := range d.Choices.Plans {
			if pl.ID == d.Account.PlanID {
				d.PlanName = pl.Name
			}
		}
	}
	if d.Account != nil {
		if d.Links, d.LinkTo, err = h.personLinks(ctx, c.Tenant, d.Account.ID); err != nil {
			return d, err
		}
	}
	rels, err := rd.Relationships(ctx, c.Tenant.ID, store.RelationshipFilter{PersonID: p.ID})
	if err != nil {
		return d, err
	}
	for _, rel := range rels {
		site, err := rd.Organization(ctx, c.Tenant.ID, rel.SiteID)
		if err != nil {
			return d, err
		}
		d.Relationships = append(d.Relationships, relRow{Site: site, Roles: rel.Roles})
	}
	f := store.AuditFilter{TargetID: p.ID}
	if d.Account != nil {
		f.AlsoTarget = d.Account.ID
	}
	evs, _, err := rd.AuditEvents(ctx, c.Tenant.ID, f, store.ListOptions{Limit: 50, Newest: true})
	if err != nil {
		return d, err
	}
	d.Events = audit.Names(ctx, h.Console, c).Rows(evs)
	c.Data.Title, c.Data.Section, c.Data.Data = p.FirstName+" "+p.LastName, "people", d
	return d, nil
}

type personNewData struct {
	Kind    string // "employee" or "contact"
	Orgs    []usher.Organization
	Choices console.Choices
}

// PersonNew is "New employee" / "New contact" (seed 000): a person
// without an account yet.
func (h *Handler) PersonNew(w http.ResponseWriter, r *http.Request, c *console.Call) {
	if r.Method == http.MethodGet {
		c.Data.Values["organization_id"] = r.URL.Query().Get("organization_id")
	} else {
		c.Form(r, "kind", "organization_id", "first_name", "last_name", "email", "phone", "department_id", "job_profile_id", "language")
	}
	kind := r.URL.Query().Get("kind")
	if r.Method == http.MethodPost {
		kind = c.Data.Values["kind"]
	}
	if kind != "contact" {
		kind = "employee"
	}
	ctx := r.Context()
	d := personNewData{Kind: kind}
	var err error
	if d.Choices, err = h.Choices(r, c.Tenant); err != nil {
		h.Fail(w, r, c, err)
		return
	}
	if kind == "contact" {
		if d.Orgs, _, err = h.Store.Read().Organizations(ctx, c.Tenant.ID, store.OrganizationFilter{Kind: usher.OrgExternal, Active: true}, store.ListOptions{Limit: 500}); err != nil {
			h.Fail(w, r, c, err)
			return
		}
	}
	c.Data.Title, c.Data.Section, c.Data.Data = "New "+kind, "people", d
	if r.Method == http.MethodPost {
		v := c.Data.Values
		org := v["organization_id"]
		if kind == "employee" {
			org = c.Tenant.InternalOrgID
		} else if org == "" {
			c.Data.Errors["organization_id"] = "Choose the contact's organization."
			c.Data.Errors["form"] = "Organization: choose the contact's organization."
		}
		if len(c.Data.Errors) == 0 {
			p, err := h.svc.CreatePerson(ctx, c.Actor, c.Tenant, provision.PersonInput{OrganizationID: org, FirstName: v["first_name"], LastName: v["last_name"],
				Email: v["email"], Phone: v["phone"], DepartmentID: v["department_id"], JobProfileID: v["job_profile_id"], Language: v["language"]})
			if err == nil {
				h.Redirect(w, r, c.Data.Admin+"people/"+p.ID, p.FirstName+" "+p.LastName+" was added. Create their user account below to give them access.")
				return
			}
			if !h.FormErrors(w, r, c, err) {
				return
			}
		}
		h.View.Console(w, r, http.StatusUnprocessableEntity, pages["person_new"], c.Data)
		return
	}
	h.View.Console(w, r, http.StatusOK, pages["person_new"], c.Data)
}

// CreateAccount is "Create user account" on a person's page (seed
// 000), choosing the authentication system.
func (h *Handler) CreateAccount(w http.ResponseWriter, r *http.Request, c *console.Call) {
	v := c.Form(r, "auth_system", "connection_id", "username", "role_id", "plan_id")
	id := r.PathValue("id")
	cr, err := h.svc.CreateAccount(r.Context(), c.Actor, c.Tenant, provision.AccountInput{Route: provision.RouteAccountForPerson, PersonID: id,
		AuthSystem: v["auth_system"], ConnectionID: v["connection_id"], Username: v["username"], RoleID: v["role_id"], PlanID: v["plan_id"]})
	if err == nil {
		h.Redirect(w, r, c.Data.Admin+"people/"+id, "The user account was created; "+h.sent(cr.Messages))
		return
	}
	if _, perr := h.personPage(r, c, id); perr != nil {
		h.Fail(w, r, c, perr)
		return
	}
	if h.FormErrors(w, r, c, err) {
		h.View.Console(w, r, console.FormStatus(err), pages["person"], c.Data)
	}
}

type userNewData struct {
	Choices console.Choices
	Orgs    []usher.Organization
}

// UserNew is the add-user form (seed 004) and manual creation with
// the tenant's required fields (seed 003): a person and their account at
// once. When no plan has a free seat it says so before the form is filled in.
func (h *Handler) UserNew(w http.ResponseWriter, r *http.Request, c *console.Call) {
	ctx := r.Context()
	d := userNewData{}
	var err error
	if d.Choices, err = h.Choices(r, c.Tenant); err != nil {
		h.Fail(w, r, c, err)
		return
	}
	if d.Orgs, _, err = h.Store.Read().Organizations(ctx, c.Tenant.ID, store.OrganizationFilter{Active: true}, store.ListOptions{Limit: 500}); err != nil {
		h.Fail(w, r, c, err)
		return
	}
	c.Data.Title, c.Data.Section, c.Data.Data = "Add user", "new", d
	if r.Method == http.MethodGet {
		h.View.Console(w, r, http.StatusOK, pages["user_new"], c.Data)
		return
	}
	v := c.Form(r, "organization_id", "first_name", "last_name", "email", "username", "phone", "role_id", "plan_id", "primary_group_id",
		"department_id", "job_profile_id", "language", "auth_system", "admin_role")
	groups := r.PostForm["group_ids"]
	c.Data.Values["group_ids"] = strings.Join(groups, ",")
	in := provision.AccountInput{Route: provision.RouteNewUser, Person: &provision.PersonInput{OrganizationID: v["organization_id"], FirstName: v["first_name"],
		LastName: v["last_name"], Email: v["email"], Phone: v["phone"], DepartmentID: v["department_id"], JobProfileID: v["job_profile_id"], Language: v["language"]},
		Username: v["username"], RoleID: v["role_id"], PlanID: v["plan_id"], PrimaryGroupID: v["primary_group_id"], GroupIDs: groups,
		AuthSystem: v["auth_system"], AdminRole: v["admin_role"]}
	cr, err := h.svc.CreateAccount(ctx, c.Actor, c.Tenant, in)
	if err == nil {
		h.Redirect(w, r, c.Data.Admin+"people/"+cr.Person.ID, cr.Person.FirstName+" "+cr.Person.LastName+" was created; "+h.sent(cr.Messages))
		return
	}
	if h.FormErrors(w, r, c, err) {
		h.View.Console(w, r, http.StatusUnprocessableEntity, pages["user_new"], c.Data)
	}
}

type wizardData struct {
	Step       int
	Connection *usher.Connection
	Choices    console.Choices
	Review     []([2]string)
}

// Wizard is the "New internal user" wizard (seed 000): who, then
// access, then a review. When the tenant has a corporate SSO connection,
// the new account signs in with it: the provisioning path enforces that.
func (h *Handler) Wizard(w http.ResponseWriter, r *http.Request, c *console.Call) {
	ctx := r.Context()
	d := wizardData{Step: 1}
	var err error
	if d.Choices, err = h.Choices(r, c.Tenant); err != nil {
		h.Fail(w, r, c, err)
		return
	}
	c.Data.Title, c.Data.Section = "New internal user", "wizard"
	fields := []string{"first_name", "last_name", "email", "phone", "department_id", "job_profile_id", "language", "role_id", "plan_id", "username"}
	if r.Method == http.MethodPost {
		c.Form(r, append(fields, "step", "back")...)
	}
	v := c.Data.Values
	// The connection the account will use: the one owning the email's domain, or the only one.
	realm, err := h.svc.HomeRealm(ctx, c.Tenant, usher.NormalizeLogin(v["email"]), nil)
	if err != nil {
		h.Fail(w, r, c, err)
		return
	}
	d.Connection = realm.Connection
	switch {
	case r.Method == http.MethodGet:
	case v["back"] != "":
		d.Step = max(1, atoiOr(v["step"], 2)-1)
	case v["step"] == "1":
		// Who: check the person's part before going on.
		var errs []string
		if v["first_name"] == "" {
			c.Data.Errors["first_name"], errs = "Enter the first name.", append(errs, "First name: enter the first name.")
		}
		if v["last_name"] == "" {
			c.Data.Errors["last_name"], errs = "Enter the last name.", append(errs, "Last name: enter the last name.")
		}
		if _, err := usher.NormalizeEmail("email", v["email"]); err != nil || v["email"] == "" {
			c.Data.Errors["email"], errs = "Enter the work email address.", append(errs, "Email: enter the work email address.")
		}
		if len(errs) == 0 {
			d.Step = 2
		} else {
			c.Data.Errors["form"] = strings.Join(errs, " ")
		}
	case v["step"] == "2":
		d.Step = 3
	case v["step"] == "3":
		cr, err := h.svc.CreateAccount(ctx, c.Actor, c.Tenant, provision.AccountInput{Route: provision.RouteNewUser,
			Person: &provision.PersonInput{FirstName: v["first_name"], LastName: v["last_name"], Email: v["email"], Phone: v["phone"],
				DepartmentID: v["department_id"], JobProfileID: v["job_profile_id"], Language: v["language"]},
			Username: v["username"], RoleID: v["role_id"], PlanID: v["plan_id"]})
		if err == nil {
			how := "They sign in with their own password after activating."
			if cr.Account.AuthSystem == usher.AuthConnection && d.Connection != nil {
				how = "They sign in with " + d.Connection.Name + "."
			}
			h.Redirect(w, r, c.Data.Admin+"people/"+cr.Person.ID, cr.Person.FirstName+" "+cr.Person.LastName+" was created. "+how+" "+view.Sentence(h.sent(cr.Messages)))
			return
		}
		if !h.FormErrors(w, r, c, err) {
			return
		}
		// Back to the step that holds the first wrong field.
		d.Step = 2
		for f := range c.Data.Errors {
			if f == "first_name" || f == "last_name" || f == "email" || f == "phone" {
				d.Step = 1
			}
		}
	}
	if d.Step == 3 {
		name := func(list []usher.Attribute, id string) string {
			for _, x := range list {
				if x.ID == id {
					return x.Name
				}
			}
			return "—"
		}
		plan := "the default plan"
		for _, p := range d.Choices.Plans {
			if p.ID == v["plan_id"] {
				plan = p.Name
			}
		}
		signIn := "their own password (usher), after an activation message"
		if d.Connection != nil {
			signIn = d.Connection.Name + " (corporate single sign-on)"
		}
		d.Review = [][2]string{{"Name", v["first_name"] + " " + v["last_name"]}, {"Email", v["email"]}, {"Phone", or(v["phone"], "—")},
			{"Department", name(d.Choices.Departments, v["department_id"])}, {"Job profile", name(d.Choices.JobProfiles, v["job_profile_id"])},
			{"Role", name(d.Choices.Roles, v["role_id"])}, {"Plan", plan}, {"Signs in with", signIn}}
	}
	c.Data.Data = d
	status := http.StatusOK
	if len(c.Data.Errors) > 0 {
		status = http.StatusUnprocessableEntity
	}
	h.View.Console(w, r, status, pages["wizard"], c.Data)
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func atoiOr(s string, def int) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return def
}

// accountActions are what the console can do to one account, or to a selection.
var accountActions = map[string]string{
	"resend": "Resend activation", "revoke": "Revoke invitation", "reset": "Send password reset", "suspend": "Suspend",
	"reactivate": "Reactivate", "deactivate": "Deactivate",
}

// accountAction runs one action on one account through the provisioning path.
func (h *Handler) accountAction(ctx context.Context, c *console.Call, id, action string) (string, error) {
	state := func(to string) (string, error) {
		_, err := h.svc.UpdateAccount(ctx, c.Actor, c.Tenant, id, provision.AccountUpdate{State: &to})
		return "", err
	}
	switch action {
	case "resend":
		msgs, err := h.svc.ResendActivation(ctx, c.Actor, c.Tenant, id)
		return view.Sentence(h.sent(msgs)), err
	case "revoke":
		_, err := h.svc.RevokeInvitation(ctx, c.Actor, c.Tenant, id)
		return "The invitation was revoked: its links and codes no longer work.", err
	case "reset":
		msgs, err := h.svc.StartReset(ctx, c.Actor, c.Tenant, id)
		return view.Sentence(h.sent(msgs)), err
	case "suspend":
		_, err := state(usher.StateSuspended)
		return "The account is suspended; its sessions have ended.", err
	case "deactivate":
		_, err := state(usher.StateDeactivated)
		return "The account is deactivated and its seat is free.", err
	case "reactivate":
		a, err := h.Store.Read().Account(ctx, c.Tenant.ID, id)
		if err != nil {
			return "", err
		}
		to := usher.StateActive
		if a.State == usher.StateDeactivated && a.ActivatedAt == nil {
			to = usher.StateInvited
		}
		_, err = state(to)
		return "The account is reactivated.", err
	}
	return "", usher.Invalid("action", "there is no action %q", action)
}

// AccountAction runs an action from a person's page.
func (h *Handler) AccountAction(w http.ResponseWriter, r *http.Request, c *console.Call) {
	ctx := r.Context()
	a, err := h.Store.Read().Account(ctx, c.Tenant.ID, r.PathValue("id"))
	if err != nil {
		h.Fail(w, r, c, err)
		return
	}
	action := r.PathValue("action")
	if action == "one-time-password" {
		otp, err := h.svc.SetOneTimePassword(ctx, c.Actor, c.Tenant, a.ID, strings.TrimSpace(r.PostFormValue("one_time_password")))
		if err != nil {
			if _, perr := h.personPage(r, c, a.PersonID); perr != nil {
				h.Fail(w, r, c, perr)
				return
			}
			if h.FormErrors(w, r, c, err) {
				h.View.Console(w, r, http.StatusUnprocessableEntity, pages["person"], c.Data)
			}
			return
		}
		p, err := h.Store.Read().Person(ctx, c.Tenant.ID, a.PersonID)
		if err != nil {
			h.Fail(w, r, c, err)
			return
		}
		// Shown once, here, and never sent: the administrator hands it over.
		c.Data.Title, c.Data.Section = "One-time password", "people"
		c.Data.Data = map[string]any{"Person": p, "Account": a, "OTP": otp, "Expires": time.Duration(provision.OneTimeTTL).Hours()}
		h.View.Console(w, r, http.StatusOK, pages["one_time"], c.Data)
		return
	}
	if _, ok := accountActions[action]; !ok {
		h.Fail(w, r, c, usher.NotFound("action", "action"))
		return
	}
	msg, err := h.accountAction(ctx, c, a.ID, action)
	if err != nil {
		h.RedirectProblem(w, r, c, c.Data.Admin+"people/"+a.PersonID, err)
		return
	}
	h.Redirect(w, r, c.Data.Admin+"people/"+a.PersonID, msg)
}

// Bulk runs one action on every selected account and reports how
// many it was done to and why the others were refused.
func (h *Handler) Bulk(w http.ResponseWriter, r *http.Request, c *console.Call) {
	if err := r.ParseForm(); err != nil {
		h.Fail(w, r, c, usher.Invalid("form", "the form could not be read"))
		return
	}
	action := r.PostFormValue("action")
	back := c.Data.Admin + "people"
	if q := r.PostFormValue("back"); strings.HasPrefix(q, "?") {
		back += q
	}
	if _, ok := accountActions[action]; !ok {
		h.Redirect(w, r, back, "Choose an action for the selected people.")
		return
	}
	ids := r.PostForm["account"]
	if len(ids) == 0 || len(ids) > 200 {
		h.Redirect(w, r, back, "Select between 1 and 200 people with an account first.")
		return
	}
	done := 0
	why := map[string]int{}
	for _, id := range ids {
		if _, err := h.accountAction(r.Context(), c, id, action); err != nil {
			var ue *usher.Error
			if !errors.As(err, &ue) || ue.Code == usher.CodeInternal {
				h.Fail(w, r, c, err)
				return
			}
			why[view.Sentence(ue.Message)]++
			continue
		}
		done++
	}
	msg := accountActions[action] + ": done for " + console.Plural(done, "account") + "."
	for m, n := range why {
		msg += " Not done for " + console.Plural(n, "account") + ": " + m
	}
	h.Redirect(w, r, back, msg)
}

// PersonEdit changes a person's details from their page.
func (h *Handler) PersonEdit(w http.ResponseWriter, r *http.Request, c *console.Call) {
	id := r.PathValue("id")
	v := c.Form(r, "first_name", "last_name", "email", "phone", "department_id", "job_profile_id", "language")
	in := provision.PersonUpdate{FirstName: new(v["first_name"]), LastName: new(v["last_name"]),
		Email: new(v["email"]), Phone: new(v["phone"]), DepartmentID: new(v["department_id"]), JobProfileID: new(v["job_profile_id"])}
	// A form without the language (an older page) leaves it as it is.
	if r.PostForm.Has("language") {
		in.Language = new(v["language"])
	}
	_, err := h.svc.UpdatePerson(r.Context(), c.Actor, c.Tenant, id, in)
	if err == nil {
		h.Redirect(w, r, c.Data.Admin+"people/"+id, "The details were saved.")
		return
	}
	h.personFormFailed(w, r, c, id, "edit_person", err)
}

// AccountEdit changes an account's identifiers, role, plan, groups
// and console rights, under the same rules as creation.
func (h *Handler) AccountEdit(w http.ResponseWriter, r *http.Request, c *console.Call) {
	if err := r.ParseForm(); err != nil {
		h.Fail(w, r, c, usher.Invalid("form", "the form could not be read"))
		return
	}
	ctx := r.Context()
	a, err := h.Store.Read().Account(ctx, c.Tenant.ID, r.PathValue("id"))
	if err != nil {
		h.Fail(w, r, c, err)
		return
	}
	v := c.Form(r, "email", "username", "phone", "role_id", "plan_id", "primary_group_id", "admin_role")
	groups := r.PostForm["group_ids"]
	in := provision.AccountUpdate{Email: new(v["email"]), Username: new(v["username"]), Phone: new(v["phone"]), RoleID: new(v["role_id"]),
		PrimaryGroupID: new(v["primary_group_id"]), GroupIDs: &groups}
	if v["plan_id"] != "" {
		in.PlanID = new(v["plan_id"])
	}
	// Only a change of console rights is sent: a user administrator may
	// edit a tenant administrator's account without touching their rights.
	if r.PostForm.Has("admin_role") && v["admin_role"] != a.AdminRole {
		in.AdminRole = new(v["admin_role"])
	}
	if _, err = h.svc.UpdateAccount(ctx, c.Actor, c.Tenant, a.ID, in); err == nil {
		h.Redirect(w, r, c.Data.Admin+"people/"+a.PersonID, "The account was saved.")
		return
	}
	h.personFormFailed(w, r, c, a.PersonID, "edit_account", err)
}

// personFormFailed shows a person's page again with the form that failed open.
func (h *Handler) personFormFailed(w http.ResponseWriter, r *http.Request, c *console.Call, id, form string, err error) {
	values := c.Data.Values
	if _, perr := h.personPage(r, c, id); perr != nil {
		h.Fail(w, r, c, perr)
		return
	}
	c.Data.Values = values
	c.Data.Values["open"] = form
	if h.FormErrors(w, r, c, err) {
		h.View.Console(w, r, console.FormStatus(err), pages["person"], c.Data)
	}
}

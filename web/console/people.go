package console

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/message"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/web/view"
)

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
	Events []auditRow
}

func (h *Handler) Home(w http.ResponseWriter, r *http.Request, c *Call) {
	ctx := r.Context()
	rd := h.st.Read()
	counts, err := rd.AccountCounts(ctx, c.tn.ID)
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	plans, _, err := rd.Plans(ctx, c.tn.ID, true, store.ListOptions{Limit: 100})
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	evs, _, err := rd.AuditEvents(ctx, c.tn.ID, store.AuditFilter{}, store.ListOptions{Limit: 10, Newest: true})
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	d := homeData{Counts: counts, Plans: plans, Events: h.namer(ctx, c).rows(evs)}
	for _, n := range counts {
		d.Total += n
	}
	c.d.Title, c.d.Section, c.d.Data, c.d.Notice = "Overview", "home", d, h.flash(w, r)
	h.view.Console(w, r, http.StatusOK, "home", c.d)
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
	Choices choices
}

// consolePeople lists employees and contacts, filtered and paged in the database.
func (h *Handler) People(w http.ResponseWriter, r *http.Request, c *Call) {
	ctx := r.Context()
	q := r.URL.Query()
	for _, k := range []string{"q", "organization_id", "department_id", "state", "plan_id", "role_id"} {
		c.d.Values[k] = strings.TrimSpace(q.Get(k))
	}
	v := c.d.Values
	f := store.PersonFilter{Query: v["q"], OrganizationID: v["organization_id"], DepartmentID: v["department_id"], PlanID: v["plan_id"], RoleID: v["role_id"]}
	switch v["state"] {
	case "", "active", "invited", "suspended", "deactivated", "none":
		f.AccountState = v["state"]
	default:
		c.d.Errors["state"] = "Choose a state from the list."
		c.d.Errors["form"] = "Account: choose a state from the list."
	}
	rd := h.st.Read()
	persons, next, err := rd.Persons(ctx, c.tn.ID, f, pageOf(r))
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	d := peopleData{Next: nextURL(r, next)}
	if d.Choices, err = h.choices(r, c.tn); err != nil {
		h.fail(w, r, c, err)
		return
	}
	if d.Orgs, _, err = rd.Organizations(ctx, c.tn.ID, store.OrganizationFilter{}, store.ListOptions{Limit: 500}); err != nil {
		h.fail(w, r, c, err)
		return
	}
	if d.Rows, err = h.personRows(ctx, c.tn, persons, d.Orgs); err != nil {
		h.fail(w, r, c, err)
		return
	}
	c.d.Title, c.d.Section, c.d.Data, c.d.Notice = "People", "people", d, h.flash(w, r)
	h.view.Console(w, r, http.StatusOK, "people", c.d)
}

func (h *Handler) personRows(ctx context.Context, tn usher.Tenant, persons []usher.Person, orgs []usher.Organization) ([]personRow, error) {
	ids := make([]string, len(persons))
	for i, p := range persons {
		ids[i] = p.ID
	}
	accts, err := h.st.Read().AccountsOfPersons(ctx, tn.ID, ids)
	if err != nil {
		return nil, err
	}
	names := map[string]string{}
	for _, o := range orgs {
		names[o.ID] = o.Name
	}
	now := h.now()
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
	Events        []auditRow
	Choices       choices
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
	Links  []accountLinkRow
	LinkTo []option
}

type relRow struct {
	Site  usher.Organization
	Roles []string
}

// consolePerson is a person's page: details, contact roles, account and history.
func (h *Handler) Person(w http.ResponseWriter, r *http.Request, c *Call) {
	if _, err := h.personPage(r, c, r.PathValue("id")); err != nil {
		h.fail(w, r, c, err)
		return
	}
	c.d.Notice = h.flash(w, r)
	h.view.Console(w, r, http.StatusOK, "person", c.d)
}

func (h *Handler) personPage(r *http.Request, c *Call, id string) (personData, error) {
	ctx := r.Context()
	rd := h.st.Read()
	var d personData
	p, err := rd.Person(ctx, c.tn.ID, id)
	if err != nil {
		return d, err
	}
	d.Person = p
	if d.Org, err = rd.Organization(ctx, c.tn.ID, p.OrganizationID); err != nil {
		return d, err
	}
	if a, err := rd.AccountOfPerson(ctx, c.tn.ID, p.ID); err == nil {
		if a.State == usher.StateInvited && (a.InviteExpiresAt == nil || !a.InviteExpiresAt.After(h.now())) {
			a.Invitation = usher.InvitationExpired
		}
		d.Account = &a
	} else if !errors.Is(err, usher.ErrNotFound) {
		return d, err
	}
	d.State = accountState(d.Account)
	if p.ManagedBy != "" {
		d.ManagedBy = "a provisioning source that no longer exists"
		if tok, err := rd.Token(ctx, p.ManagedBy); err == nil && tok.TenantID == c.tn.ID {
			d.ManagedBy = tok.Name
			if tok.RevokedAt != nil {
				d.ManagedBy += " (its token is revoked: changes here are kept)"
			}
		}
	}
	if d.Choices, err = h.choices(r, c.tn); err != nil {
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
		d.Language = view.LanguageName(c.tn.Settings.DefaultLanguage) + " (the tenant's default)"
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
		if d.Links, d.LinkTo, err = h.personLinks(ctx, c.tn, d.Account.ID); err != nil {
			return d, err
		}
	}
	rels, err := rd.Relationships(ctx, c.tn.ID, store.RelationshipFilter{PersonID: p.ID})
	if err != nil {
		return d, err
	}
	for _, rel := range rels {
		site, err := rd.Organization(ctx, c.tn.ID, rel.SiteID)
		if err != nil {
			return d, err
		}
		d.Relationships = append(d.Relationships, relRow{Site: site, Roles: rel.Roles})
	}
	f := store.AuditFilter{TargetID: p.ID}
	if d.Account != nil {
		f.AlsoTarget = d.Account.ID
	}
	evs, _, err := rd.AuditEvents(ctx, c.tn.ID, f, store.ListOptions{Limit: 50, Newest: true})
	if err != nil {
		return d, err
	}
	d.Events = h.namer(ctx, c).rows(evs)
	c.d.Title, c.d.Section, c.d.Data = p.FirstName+" "+p.LastName, "people", d
	return d, nil
}

type personNewData struct {
	Kind    string // "employee" or "contact"
	Orgs    []usher.Organization
	Choices choices
}

// consolePersonNew is "New employee" / "New contact" (seed 000): a person
// without an account yet.
func (h *Handler) PersonNew(w http.ResponseWriter, r *http.Request, c *Call) {
	if r.Method == http.MethodGet {
		c.d.Values["organization_id"] = r.URL.Query().Get("organization_id")
	} else {
		c.form(r, "kind", "organization_id", "first_name", "last_name", "email", "phone", "department_id", "job_profile_id", "language")
	}
	kind := r.URL.Query().Get("kind")
	if r.Method == http.MethodPost {
		kind = c.d.Values["kind"]
	}
	if kind != "contact" {
		kind = "employee"
	}
	ctx := r.Context()
	d := personNewData{Kind: kind}
	var err error
	if d.Choices, err = h.choices(r, c.tn); err != nil {
		h.fail(w, r, c, err)
		return
	}
	if kind == "contact" {
		if d.Orgs, _, err = h.st.Read().Organizations(ctx, c.tn.ID, store.OrganizationFilter{Kind: usher.OrgExternal, Active: true}, store.ListOptions{Limit: 500}); err != nil {
			h.fail(w, r, c, err)
			return
		}
	}
	c.d.Title, c.d.Section, c.d.Data = "New "+kind, "people", d
	if r.Method == http.MethodPost {
		v := c.d.Values
		org := v["organization_id"]
		if kind == "employee" {
			org = c.tn.InternalOrgID
		} else if org == "" {
			c.d.Errors["organization_id"] = "Choose the contact's organization."
			c.d.Errors["form"] = "Organization: choose the contact's organization."
		}
		if len(c.d.Errors) == 0 {
			p, err := h.svc.CreatePerson(ctx, c.actor, c.tn, provision.PersonInput{OrganizationID: org, FirstName: v["first_name"], LastName: v["last_name"],
				Email: v["email"], Phone: v["phone"], DepartmentID: v["department_id"], JobProfileID: v["job_profile_id"], Language: v["language"]})
			if err == nil {
				h.redirect(w, r, c.d.Admin+"people/"+p.ID, p.FirstName+" "+p.LastName+" was added. Create their user account below to give them access.")
				return
			}
			if !h.formErrors(w, r, c, err) {
				return
			}
		}
		h.view.Console(w, r, http.StatusUnprocessableEntity, "person_new", c.d)
		return
	}
	h.view.Console(w, r, http.StatusOK, "person_new", c.d)
}

// consoleCreateAccount is "Create user account" on a person's page (seed
// 000), choosing the authentication system.
func (h *Handler) CreateAccount(w http.ResponseWriter, r *http.Request, c *Call) {
	v := c.form(r, "auth_system", "connection_id", "username", "role_id", "plan_id")
	id := r.PathValue("id")
	cr, err := h.svc.CreateAccount(r.Context(), c.actor, c.tn, provision.AccountInput{Route: provision.RouteAccountForPerson, PersonID: id,
		AuthSystem: v["auth_system"], ConnectionID: v["connection_id"], Username: v["username"], RoleID: v["role_id"], PlanID: v["plan_id"]})
	if err == nil {
		h.redirect(w, r, c.d.Admin+"people/"+id, "The user account was created; "+h.sent(cr.Messages))
		return
	}
	if _, perr := h.personPage(r, c, id); perr != nil {
		h.fail(w, r, c, perr)
		return
	}
	if h.formErrors(w, r, c, err) {
		h.view.Console(w, r, formStatus(err), "person", c.d)
	}
}

// messageKinds name the kinds of message as the console speaks of them:
// in a sentence, and in the list of messages.
var messageKinds = []struct{ Kind, A, Name string }{
	{provision.KindInvitation, "an invitation", "Invitation"},
	{provision.KindWelcome, "the welcome message", "Welcome"},
	{provision.KindActivation, "a new activation link", "New activation link"},
	{provision.KindRegistration, "a registration confirmation", "Registration"},
	{provision.KindPasswordReset, "a password reset link", "Password reset"},
	{message.KindOneTimePassword, "a one-time password notice", "One-time password set"},
	{provision.KindIdentityJoined, "a notice that the account joined their sign-in", "Sign-in joined"},
	{provision.KindLinkAuthorize, "a request to connect an external account", "Connect an account"},
	{provision.KindLinkReauthorize, "a request to reconnect an external account", "Reconnect an account"},
}

// kindNames are the names of the kinds of message by kind.
func kindNames() map[string]string {
	m := map[string]string{}
	for _, k := range messageKinds {
		m[k.Kind] = k.Name
	}
	return m
}

// channelNames are the channels as people write them.
var channelNames = map[string]string{usher.ChannelEmail: "email", usher.ChannelSMS: "SMS"}

// sent says what became of new messages: queued for a channel a provider
// delivers, or kept under Messages when none is configured for it, so
// nobody is told a message went out when it sits in the outbox.
func (h *Handler) sent(msgs []usher.Message) string {
	if len(msgs) == 0 {
		return "no message was made: the tenant sends on no channel this person has an address for."
	}
	what := "a message"
	for _, k := range messageKinds {
		if k.Kind == msgs[0].Kind {
			what = k.A
		}
	}
	var queued, kept []string
	var idle []string // channels without a provider
	for _, m := range msgs {
		ch := channelNames[m.Channel]
		if h.delivers[m.Channel] {
			queued = append(queued, ch+" to "+m.To)
			continue
		}
		kept = append(kept, m.To)
		idle = append(idle, ch)
	}
	var parts []string
	if len(queued) > 0 {
		parts = append(parts, "queued to go out by "+strings.Join(queued, " and by "))
	}
	if len(kept) > 0 {
		parts = append(parts, "kept under Messages for "+strings.Join(kept, " and ")+
			" (no "+strings.Join(idle, " or ")+" provider is configured, so nothing is sent)")
	}
	return what + " is " + strings.Join(parts, ", and ") + "."
}

type userNewData struct {
	Choices choices
	Orgs    []usher.Organization
}

// consoleUserNew is the add-user form (seed 004) and manual creation with
// the tenant's required fields (seed 003): a person and their account at
// once. When no plan has a free seat it says so before the form is filled in.
func (h *Handler) UserNew(w http.ResponseWriter, r *http.Request, c *Call) {
	ctx := r.Context()
	d := userNewData{}
	var err error
	if d.Choices, err = h.choices(r, c.tn); err != nil {
		h.fail(w, r, c, err)
		return
	}
	if d.Orgs, _, err = h.st.Read().Organizations(ctx, c.tn.ID, store.OrganizationFilter{Active: true}, store.ListOptions{Limit: 500}); err != nil {
		h.fail(w, r, c, err)
		return
	}
	c.d.Title, c.d.Section, c.d.Data = "Add user", "new", d
	if r.Method == http.MethodGet {
		h.view.Console(w, r, http.StatusOK, "user_new", c.d)
		return
	}
	v := c.form(r, "organization_id", "first_name", "last_name", "email", "username", "phone", "role_id", "plan_id", "primary_group_id",
		"department_id", "job_profile_id", "language", "auth_system", "admin_role")
	groups := r.PostForm["group_ids"]
	c.d.Values["group_ids"] = strings.Join(groups, ",")
	in := provision.AccountInput{Route: provision.RouteNewUser, Person: &provision.PersonInput{OrganizationID: v["organization_id"], FirstName: v["first_name"],
		LastName: v["last_name"], Email: v["email"], Phone: v["phone"], DepartmentID: v["department_id"], JobProfileID: v["job_profile_id"], Language: v["language"]},
		Username: v["username"], RoleID: v["role_id"], PlanID: v["plan_id"], PrimaryGroupID: v["primary_group_id"], GroupIDs: groups,
		AuthSystem: v["auth_system"], AdminRole: v["admin_role"]}
	cr, err := h.svc.CreateAccount(ctx, c.actor, c.tn, in)
	if err == nil {
		h.redirect(w, r, c.d.Admin+"people/"+cr.Person.ID, cr.Person.FirstName+" "+cr.Person.LastName+" was created; "+h.sent(cr.Messages))
		return
	}
	if h.formErrors(w, r, c, err) {
		h.view.Console(w, r, http.StatusUnprocessableEntity, "user_new", c.d)
	}
}

type wizardData struct {
	Step       int
	Connection *usher.Connection
	Choices    choices
	Review     []([2]string)
}

// consoleWizard is the "New internal user" wizard (seed 000): who, then
// access, then a review. When the tenant has a corporate SSO connection,
// the new account signs in with it: the provisioning path enforces that.
func (h *Handler) Wizard(w http.ResponseWriter, r *http.Request, c *Call) {
	ctx := r.Context()
	d := wizardData{Step: 1}
	var err error
	if d.Choices, err = h.choices(r, c.tn); err != nil {
		h.fail(w, r, c, err)
		return
	}
	c.d.Title, c.d.Section = "New internal user", "wizard"
	fields := []string{"first_name", "last_name", "email", "phone", "department_id", "job_profile_id", "language", "role_id", "plan_id", "username"}
	if r.Method == http.MethodPost {
		c.form(r, append(fields, "step", "back")...)
	}
	v := c.d.Values
	// The connection the account will use: the one owning the email's domain, or the only one.
	realm, err := h.svc.HomeRealm(ctx, c.tn, usher.NormalizeLogin(v["email"]), nil)
	if err != nil {
		h.fail(w, r, c, err)
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
			c.d.Errors["first_name"], errs = "Enter the first name.", append(errs, "First name: enter the first name.")
		}
		if v["last_name"] == "" {
			c.d.Errors["last_name"], errs = "Enter the last name.", append(errs, "Last name: enter the last name.")
		}
		if _, err := usher.NormalizeEmail("email", v["email"]); err != nil || v["email"] == "" {
			c.d.Errors["email"], errs = "Enter the work email address.", append(errs, "Email: enter the work email address.")
		}
		if len(errs) == 0 {
			d.Step = 2
		} else {
			c.d.Errors["form"] = strings.Join(errs, " ")
		}
	case v["step"] == "2":
		d.Step = 3
	case v["step"] == "3":
		cr, err := h.svc.CreateAccount(ctx, c.actor, c.tn, provision.AccountInput{Route: provision.RouteNewUser,
			Person: &provision.PersonInput{FirstName: v["first_name"], LastName: v["last_name"], Email: v["email"], Phone: v["phone"],
				DepartmentID: v["department_id"], JobProfileID: v["job_profile_id"], Language: v["language"]},
			Username: v["username"], RoleID: v["role_id"], PlanID: v["plan_id"]})
		if err == nil {
			how := "They sign in with their own password after activating."
			if cr.Account.AuthSystem == usher.AuthConnection && d.Connection != nil {
				how = "They sign in with " + d.Connection.Name + "."
			}
			h.redirect(w, r, c.d.Admin+"people/"+cr.Person.ID, cr.Person.FirstName+" "+cr.Person.LastName+" was created. "+how+" "+view.Sentence(h.sent(cr.Messages)))
			return
		}
		if !h.formErrors(w, r, c, err) {
			return
		}
		// Back to the step that holds the first wrong field.
		d.Step = 2
		for f := range c.d.Errors {
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
	c.d.Data = d
	status := http.StatusOK
	if len(c.d.Errors) > 0 {
		status = http.StatusUnprocessableEntity
	}
	h.view.Console(w, r, status, "wizard", c.d)
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
func (h *Handler) accountAction(ctx context.Context, c *Call, id, action string) (string, error) {
	state := func(to string) (string, error) {
		_, err := h.svc.UpdateAccount(ctx, c.actor, c.tn, id, provision.AccountUpdate{State: &to})
		return "", err
	}
	switch action {
	case "resend":
		msgs, err := h.svc.ResendActivation(ctx, c.actor, c.tn, id)
		return view.Sentence(h.sent(msgs)), err
	case "revoke":
		_, err := h.svc.RevokeInvitation(ctx, c.actor, c.tn, id)
		return "The invitation was revoked: its links and codes no longer work.", err
	case "reset":
		msgs, err := h.svc.StartReset(ctx, c.actor, c.tn, id)
		return view.Sentence(h.sent(msgs)), err
	case "suspend":
		_, err := state(usher.StateSuspended)
		return "The account is suspended; its sessions have ended.", err
	case "deactivate":
		_, err := state(usher.StateDeactivated)
		return "The account is deactivated and its seat is free.", err
	case "reactivate":
		a, err := h.st.Read().Account(ctx, c.tn.ID, id)
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

// consoleAccountAction runs an action from a person's page.
func (h *Handler) AccountAction(w http.ResponseWriter, r *http.Request, c *Call) {
	ctx := r.Context()
	a, err := h.st.Read().Account(ctx, c.tn.ID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	action := r.PathValue("action")
	if action == "one-time-password" {
		otp, err := h.svc.SetOneTimePassword(ctx, c.actor, c.tn, a.ID, strings.TrimSpace(r.PostFormValue("one_time_password")))
		if err != nil {
			if _, perr := h.personPage(r, c, a.PersonID); perr != nil {
				h.fail(w, r, c, perr)
				return
			}
			if h.formErrors(w, r, c, err) {
				h.view.Console(w, r, http.StatusUnprocessableEntity, "person", c.d)
			}
			return
		}
		p, err := h.st.Read().Person(ctx, c.tn.ID, a.PersonID)
		if err != nil {
			h.fail(w, r, c, err)
			return
		}
		// Shown once, here, and never sent: the administrator hands it over.
		c.d.Title, c.d.Section = "One-time password", "people"
		c.d.Data = map[string]any{"Person": p, "Account": a, "OTP": otp, "Expires": time.Duration(provision.OneTimeTTL).Hours()}
		h.view.Console(w, r, http.StatusOK, "one_time", c.d)
		return
	}
	if _, ok := accountActions[action]; !ok {
		h.fail(w, r, c, usher.NotFound("action", "action"))
		return
	}
	msg, err := h.accountAction(ctx, c, a.ID, action)
	if err != nil {
		h.redirectProblem(w, r, c, c.d.Admin+"people/"+a.PersonID, err)
		return
	}
	h.redirect(w, r, c.d.Admin+"people/"+a.PersonID, msg)
}

// redirectProblem sends the browser back to a page with a refused
// action's reason; other errors get the error page.
func (h *Handler) redirectProblem(w http.ResponseWriter, r *http.Request, c *Call, to string, err error) {
	h.view.Fail(w, r, err, func(_ int, ue *usher.Error) { h.redirect(w, r, to, "Not done: "+view.Sentence(ue.Message)) })
}

// consoleBulk runs one action on every selected account and reports how
// many it was done to and why the others were refused.
func (h *Handler) Bulk(w http.ResponseWriter, r *http.Request, c *Call) {
	if err := r.ParseForm(); err != nil {
		h.fail(w, r, c, usher.Invalid("form", "the form could not be read"))
		return
	}
	action := r.PostFormValue("action")
	back := c.d.Admin + "people"
	if q := r.PostFormValue("back"); strings.HasPrefix(q, "?") {
		back += q
	}
	if _, ok := accountActions[action]; !ok {
		h.redirect(w, r, back, "Choose an action for the selected people.")
		return
	}
	ids := r.PostForm["account"]
	if len(ids) == 0 || len(ids) > 200 {
		h.redirect(w, r, back, "Select between 1 and 200 people with an account first.")
		return
	}
	done := 0
	why := map[string]int{}
	for _, id := range ids {
		if _, err := h.accountAction(r.Context(), c, id, action); err != nil {
			var ue *usher.Error
			if !errors.As(err, &ue) || ue.Code == usher.CodeInternal {
				h.fail(w, r, c, err)
				return
			}
			why[view.Sentence(ue.Message)]++
			continue
		}
		done++
	}
	msg := accountActions[action] + ": done for " + plural(done, "account") + "."
	for m, n := range why {
		msg += " Not done for " + plural(n, "account") + ": " + m
	}
	h.redirect(w, r, back, msg)
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// consolePersonEdit changes a person's details from their page.
func (h *Handler) PersonEdit(w http.ResponseWriter, r *http.Request, c *Call) {
	id := r.PathValue("id")
	v := c.form(r, "first_name", "last_name", "email", "phone", "department_id", "job_profile_id", "language")
	in := provision.PersonUpdate{FirstName: ptrTo(v["first_name"]), LastName: ptrTo(v["last_name"]),
		Email: ptrTo(v["email"]), Phone: ptrTo(v["phone"]), DepartmentID: ptrTo(v["department_id"]), JobProfileID: ptrTo(v["job_profile_id"])}
	// A form without the language (an older page) leaves it as it is.
	if r.PostForm.Has("language") {
		in.Language = ptrTo(v["language"])
	}
	_, err := h.svc.UpdatePerson(r.Context(), c.actor, c.tn, id, in)
	if err == nil {
		h.redirect(w, r, c.d.Admin+"people/"+id, "The details were saved.")
		return
	}
	h.personFormFailed(w, r, c, id, "edit_person", err)
}

// consoleAccountEdit changes an account's identifiers, role, plan, groups
// and console rights, under the same rules as creation.
func (h *Handler) AccountEdit(w http.ResponseWriter, r *http.Request, c *Call) {
	if err := r.ParseForm(); err != nil {
		h.fail(w, r, c, usher.Invalid("form", "the form could not be read"))
		return
	}
	ctx := r.Context()
	a, err := h.st.Read().Account(ctx, c.tn.ID, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, c, err)
		return
	}
	v := c.form(r, "email", "username", "phone", "role_id", "plan_id", "primary_group_id", "admin_role")
	groups := r.PostForm["group_ids"]
	in := provision.AccountUpdate{Email: ptrTo(v["email"]), Username: ptrTo(v["username"]), Phone: ptrTo(v["phone"]), RoleID: ptrTo(v["role_id"]),
		PrimaryGroupID: ptrTo(v["primary_group_id"]), GroupIDs: &groups}
	if v["plan_id"] != "" {
		in.PlanID = ptrTo(v["plan_id"])
	}
	// Only a change of console rights is sent: a user administrator may
	// edit a tenant administrator's account without touching their rights.
	if r.PostForm.Has("admin_role") && v["admin_role"] != a.AdminRole {
		in.AdminRole = ptrTo(v["admin_role"])
	}
	if _, err = h.svc.UpdateAccount(ctx, c.actor, c.tn, a.ID, in); err == nil {
		h.redirect(w, r, c.d.Admin+"people/"+a.PersonID, "The account was saved.")
		return
	}
	h.personFormFailed(w, r, c, a.PersonID, "edit_account", err)
}

// personFormFailed shows a person's page again with the form that failed open.
func (h *Handler) personFormFailed(w http.ResponseWriter, r *http.Request, c *Call, id, form string, err error) {
	values := c.d.Values
	if _, perr := h.personPage(r, c, id); perr != nil {
		h.fail(w, r, c, perr)
		return
	}
	c.d.Values = values
	c.d.Values["open"] = form
	if h.formErrors(w, r, c, err) {
		h.view.Console(w, r, formStatus(err), "person", c.d)
	}
}

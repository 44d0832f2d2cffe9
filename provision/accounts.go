package provision

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/password"
	"github.com/usherhq/usher/secret"
	"github.com/usherhq/usher/store"
)

// Routes: which way in asks for an account. The corporate SSO rule of seed
// 000 depends on it.
const (
	// RouteNewUser creates a person and an account together: the "new
	// internal user" wizard, manual creation, import, SCIM, registration.
	RouteNewUser = "new_user"
	// RouteAccountForPerson is "create user account" on an existing person,
	// where the administrator chooses the authentication system.
	RouteAccountForPerson = "account_for_person"
	// RouteRelationship is a contact's first relationship with a site
	// (seed 002), which gives them an account and the welcome message.
	RouteRelationship = "relationship"
	// RouteRegistration is self-registration from the sign-in page or a
	// sign-up link: the person chooses their own password, unless their
	// email's domain belongs to the tenant's SSO connection.
	RouteRegistration = "registration"
	// RouteImport is a row of a bulk import: a new person and account
	// under the rules of RouteNewUser, created by CreateAccounts.
	RouteImport = "import"
	// RouteProvisioning is a provisioning source (SCIM) creating a user:
	// the rules of RouteNewUser; the source's later changes use Change.
	RouteProvisioning = "provisioning"
	// RouteJustInTime is a person's first sign-in through the tenant's
	// SSO connection: the account uses that connection (ConnectionID) and
	// is active at once, since the identity provider vouches for them.
	RouteJustInTime = "just_in_time"
)

// PersonInput is a person's directory data as a way in supplies it.
type PersonInput struct {
	OrganizationID string `json:"organization_id,omitempty"`
	FirstName      string `json:"first_name,omitempty"`
	LastName       string `json:"last_name,omitempty"`
	Email          string `json:"email,omitempty"`
	Phone          string `json:"phone,omitempty"`
	DepartmentID   string `json:"department_id,omitempty"`
	JobProfileID   string `json:"job_profile_id,omitempty"`
	Language       string `json:"language,omitempty"`
	ExternalID     string `json:"external_id,omitempty"`
}

// Defaults a way in carries (a sign-up link, a connection's just-in-time
// settings); they take precedence over the tenant's defaults.
type Defaults struct {
	RoleID, PlanID, DepartmentID, JobProfileID string
}

// AccountInput asks for an account, for an existing person (PersonID) or a
// new one (Person).
type AccountInput struct {
	Route          string
	PersonID       string
	Person         *PersonInput
	AuthSystem     string // "" lets the rules choose
	ConnectionID   string
	Email          string // login identifiers; email and phone default to the person's
	Username       string
	Phone          string
	RoleID         string
	PlanID         string
	PrimaryGroupID string
	GroupIDs       []string
	Language       string
	AdminRole      string
	Defaults       Defaults
	// MessageKind is the activation message to send: "invitation" by
	// default, "welcome" for seed 002's first site relationship.
	MessageKind string
	// Active creates the account already active (an identity provider that
	// vouches for the person, for example); no activation is sent.
	Active bool
	// SignupLinkID is the sign-up link the account registers through; its
	// use is counted in the account's transaction, so a link's limit holds.
	SignupLinkID string
	// Source is the provisioning source that creates the account (Route
	// RouteProvisioning): the person and account are managed by it.
	Source *Source
	// Suspended creates the account suspended (a source's disabled user):
	// no activation is sent until it is resumed.
	Suspended bool
	// OneTimePassword, when set, is the invited account's one-time password
	// (an import's column, seed 003), kept in the creation's transaction
	// instead of an activation link: the administrator hands it over, so no
	// message is sent, and the person chooses their own at first sign-in.
	OneTimePassword string
	// ImportRow, for a row of a bulk import, records the row's result with
	// the account, in its transaction: a row is then created once, however
	// often the import's worker is stopped and started again.
	ImportRow *ImportRow
	// dryRun: CheckAccount's plan, which checks without hashing.
	dryRun bool
}

// ImportRow is a row of a bulk import: its import's id and its number,
// and the worker that holds the import (its lease's owner), without which
// the row is not created.
type ImportRow struct {
	ImportID string
	Owner    string
	Row      int
}

// Created is what CreateAccount made.
type Created struct {
	Person   usher.Person    `json:"person"`
	Account  usher.Account   `json:"account"`
	Messages []usher.Message `json:"messages"`
}

// CreateAccount is the one path by which an account comes to exist.
func (s *Service) CreateAccount(ctx context.Context, actor usher.Actor, tenant usher.Tenant, in AccountInput) (Created, error) {
	p, err := s.planOne(ctx, actor, tenant, &in)
	if err != nil {
		return Created{}, err
	}
	var out Created
	// Grouped: concurrent creations share a transaction on PostgreSQL.
	// write may run again, so it changes nothing but out.
	err = s.st.WriteGrouped(ctx, func(tx *store.Tx) error {
		var err error
		out, err = s.write(ctx, tx, actor, tenant, p, in)
		return err
	})
	s.queued(err, len(out.Messages))
	return out, err
}

// planOne checks that actor may create in's account in tenant, and plans it.
func (s *Service) planOne(ctx context.Context, actor usher.Actor, tenant usher.Tenant, in *AccountInput) (planned, error) {
	if err := actor.Require(usher.AdminUser); err != nil {
		return planned{}, err
	}
	if err := checkAdminRole(actor, "", in.AdminRole); err != nil {
		return planned{}, err
	}
	if tenant.DeactivatedAt != nil {
		return planned{}, usher.Forbidden("the tenant is deactivated")
	}
	return s.plan(ctx, tenant, in)
}

// Row is the outcome of one input of CreateAccounts: what was created, or
// why not (the fields named as in a single creation).
type Row struct {
	Created Created
	Err     error
}

// CreateAccounts creates many accounts, each on its own, as a bulk import
// does: one Row per input, in the inputs' order. A refused input changes
// nothing and holds none of the others back. The inputs are checked
// several at once, then written together (store.WriteMany): each table's
// rows in one statement and one commit for all, each account with its own
// seat, audit event and messages as CreateAccount writes them.
func (s *Service) CreateAccounts(ctx context.Context, actor usher.Actor, tenant usher.Tenant, in []AccountInput) []Row {
	out := make([]Row, len(in))
	plans := make([]planned, len(in))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(bulkWorkers, len(in)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				plans[i], out[i].Err = s.planOne(ctx, actor, tenant, &in[i])
			}
		}()
	}
	for i := range in {
		next <- i
	}
	close(next)
	wg.Wait()
	var fns []func(*store.Tx) error
	var rows []int
	for i := range in {
		if out[i].Err != nil {
			continue
		}
		rows = append(rows, i)
		fns = append(fns, func(tx *store.Tx) error {
			var err error
			out[i].Created, err = s.write(ctx, tx, actor, tenant, plans[i], in[i])
			return err
		})
	}
	msgs := 0
	for k, err := range s.st.WriteMany(ctx, fns) {
		i := rows[k]
		if err != nil {
			out[i] = Row{Err: err}
			continue
		}
		msgs += len(out[i].Created.Messages)
	}
	s.queued(nil, msgs)
	return out
}

// bulkWorkers is how many inputs of CreateAccounts are checked at once.
const bulkWorkers = 4

// CheckAccount runs every rule of CreateAccount without writing anything:
// a dry run. What only the write can tell (an identifier taken meanwhile, the
// last seat) may still refuse the creation.
func (s *Service) CheckAccount(ctx context.Context, actor usher.Actor, tenant usher.Tenant, in AccountInput) error {
	if err := actor.Require(usher.AdminUser); err != nil {
		return err
	}
	if err := checkAdminRole(actor, "", in.AdminRole); err != nil {
		return err
	}
	in.dryRun = true
	_, err := s.plan(ctx, tenant, &in)
	return err
}

// write stores a planned account (and its new person) in tx: the account,
// its seat, its audit event and its activation messages. Every way in that
// creates an account ends here.
func (s *Service) write(ctx context.Context, tx *store.Tx, actor usher.Actor, tenant usher.Tenant, p planned, in AccountInput) (Created, error) {
	person := p.person
	if in.SignupLinkID != "" {
		// Counted first: a link at its limit refuses before anything is written.
		if err := tx.UseSignupLink(ctx, tenant.ID, in.SignupLinkID); err != nil {
			return Created{}, err
		}
	}
	if err := createEntries(ctx, tx, tenant, actor, p.entries, &person); err != nil {
		return Created{}, err
	}
	if in.Person != nil {
		if err := tx.InsertPerson(ctx, tenant.ID, &person); err != nil {
			return Created{}, err
		}
	}
	acct := p.account
	acct.PersonID = person.ID
	if err := tx.InsertAccount(ctx, tenant.ID, &acct); err != nil {
		return Created{}, err
	}
	if in.Source != nil {
		if err := tx.InsertSourceUser(ctx, tenant.ID, &store.SourceUser{AccountID: acct.ID, SourceID: in.Source.ID, Emails: in.Source.Emails, Data: in.Source.Data}); err != nil {
			return Created{}, err
		}
	}
	if in.ImportRow != nil {
		if err := tx.RecordImportRow(ctx, in.ImportRow.ImportID, in.ImportRow.Owner, in.ImportRow.Row, acct.ID, person.ID); err != nil {
			return Created{}, err
		}
	}
	details := map[string]string{"plan_id": acct.PlanID, "auth_system": acct.AuthSystem, "route": in.Route}
	if in.SignupLinkID != "" {
		details["signup_link_id"] = in.SignupLinkID
	}
	if in.Person != nil {
		details["person_created"] = "true"
	}
	if acct.AdminRole != "" {
		details["admin_role"] = acct.AdminRole
	}
	if err := audit(ctx, tx, tenant.ID, actor, "account.created", "account", acct.ID, details); err != nil {
		return Created{}, err
	}
	msgs, err := p.outbox.Queue(ctx, tx, tenant.ID)
	if err != nil {
		return Created{}, err
	}
	// The seat last: the statements before it are inserts that a group of
	// creations on PostgreSQL joins into one per table (store.WriteGrouped).
	if err := tx.ClaimSeat(ctx, tenant.ID, acct.PlanID, acct.ID); err != nil {
		return Created{}, err
	}
	return Created{Person: person, Account: acct, Messages: msgs}, nil
}

// planned is a validated account (and person) ready to write, with its
// activation secrets and rendered messages.
type planned struct {
	person  usher.Person
	account usher.Account
	outbox  Outbox
	// entries are catalogue entries a source's names ask for.
	entries []newEntry
}

// plan validates in against the tenant's rules and resolves every default,
// reading from the read pool so the write transaction stays short.
func (s *Service) plan(ctx context.Context, tenant usher.Tenant, in *AccountInput) (planned, error) {
	r := s.st.Read()
	var ps problems
	var p planned
	var org usher.Organization
	var old *subject // an existing person, checked as an update of them
	switch {
	case in.Person != nil && in.PersonID != "":
		return p, usher.Invalid("person_id", "give either person_id or a new person, not both")
	case in.Person != nil:
		p.person = in.Person.person()
		var err error
		if org, err = organization(ctx, r, tenant, p.person.OrganizationID); err != nil {
			return p, err
		}
		p.person.OrganizationID = org.ID
		p.person.ID = store.NewID()
	case in.PersonID != "":
		person, err := r.Person(ctx, tenant.ID, in.PersonID)
		if err != nil {
			return p, err
		}
		if person.DeactivatedAt != nil {
			return p, usher.Invalid("person_id", "the person is deactivated")
		}
		if org, err = r.Organization(ctx, tenant.ID, person.OrganizationID); err != nil {
			return p, err
		}
		p.person = person
		old = &subject{person: person}
	default:
		return p, usher.Invalid("person", "give person_id or the new person's details")
	}
	person := &p.person
	creating := map[string]string{}
	if in.Source != nil {
		if in.Person == nil {
			return p, usher.Invalid("person", "a provisioning source creates a new person with the account")
		}
		person.ManagedBy = in.Source.ID
		entries, err := resolveNames(ctx, r, tenant, in.Source, person)
		if err != nil {
			return p, err
		}
		p.entries = entries
		for _, e := range entries {
			creating[e.attr.ID] = e.kind
		}
	}

	// Defaults: the way in's, then the tenant's.
	pick := func(vals ...string) string {
		for _, v := range vals {
			if v != "" {
				return v
			}
		}
		return ""
	}
	st := tenant.Settings
	person.DepartmentID = pick(person.DepartmentID, in.Defaults.DepartmentID, st.DefaultDepartmentID)
	person.JobProfileID = pick(person.JobProfileID, in.Defaults.JobProfileID, st.DefaultJobProfileID)
	a := usher.Account{
		ID:             store.NewID(),
		State:          usher.StateInvited,
		Email:          pick(in.Email, person.Email),
		Phone:          pick(in.Phone, person.Phone),
		Username:       in.Username,
		RoleID:         pick(in.RoleID, in.Defaults.RoleID, st.DefaultRoleID),
		PlanID:         pick(in.PlanID, in.Defaults.PlanID, st.DefaultPlanID),
		PrimaryGroupID: in.PrimaryGroupID,
		GroupIDs:       slices.Clone(in.GroupIDs),
		Language:       pick(in.Language, person.Language, st.DefaultLanguage),
		AdminRole:      in.AdminRole,
		ManagedBy:      person.ManagedBy,
	}
	if person.Language == "" {
		person.Language = a.Language
	}
	if in.Person != nil && person.Email == "" {
		person.Email = a.Email
	}
	if in.Person != nil && person.Phone == "" {
		person.Phone = a.Phone
	}
	want := subject{person: *person, account: &a, creating: creating}
	ps.add(s.check(ctx, r, tenant, &want, old))
	p.person = want.person

	// Authentication system: the "new internal user" rule of seed 000.
	ssoName, err := s.chooseAuth(ctx, r, tenant, org, in, &a)
	ps.add(err)
	// Microseconds, as the databases keep them.
	now := s.now().UTC().Truncate(time.Microsecond)
	switch {
	case in.Active:
		a.State = usher.StateActive
		a.ActivatedAt = &now
	case in.Suspended:
		a.State = usher.StateSuspended
	default:
		exp := now.Add(activationTTL(tenant))
		a.InviteExpiresAt, a.Invitation = &exp, usher.InvitationPending
	}
	if err := ps.err(); err != nil {
		return p, err
	}
	p.account = a
	// An SSO account a source provisions is told nothing: its first
	// sign-in with the company account activates it.
	if in.OneTimePassword != "" {
		return p, s.planOneTimePassword(ctx, &p, in.OneTimePassword, now, !in.dryRun)
	}
	if a.State == usher.StateInvited && !(in.Route == RouteProvisioning && a.AuthSystem == usher.AuthConnection) {
		// Secrets and rendering happen here, outside the write transaction:
		// on SQLite every write waits for the one writer.
		kind := in.MessageKind
		if kind == "" {
			kind = KindInvitation
		}
		if p.outbox, err = s.prepareSecrets(tenant, p.person, a, kind, now, *a.InviteExpiresAt, ssoName); err != nil {
			return p, err
		}
	}
	return p, nil
}

// planOneTimePassword makes a new invited password account's one-time
// password its activation, hashed here, outside the write transaction.
func (s *Service) planOneTimePassword(ctx context.Context, p *planned, otp string, now time.Time, hashIt bool) error {
	a := &p.account
	switch {
	case a.AuthSystem != usher.AuthPassword:
		return usher.Invalid("one_time_password", "the account signs in with its SSO connection, not a password")
	case a.State != usher.StateInvited:
		return usher.Invalid("one_time_password", "only a new invited account gets a one-time password")
	}
	if err := CheckOneTimePassword(otp); err != nil || !hashIt {
		return err
	}
	hash, err := password.Hash(ctx, otp)
	if err != nil {
		return err
	}
	exp := now.Add(OneTimeTTL)
	a.InviteExpiresAt = &exp
	p.outbox = Outbox{acts: []store.Activation{{AccountID: a.ID, SecretHash: hash, Kind: "otp", ExpiresAt: exp}}}
	return nil
}

// chooseAuth decides the account's authentication system. For an internal
// person in a tenant with a corporate SSO connection, a new account must use
// that connection (seed 000): otherwise leaving the company would not end
// the access. Only "create user account" on an existing person may choose
// usher's password instead, and only while the connection is not enforced.
// It returns the name of the connection an SSO account uses.
func (s *Service) chooseAuth(ctx context.Context, r *store.Tx, tenant usher.Tenant, org usher.Organization, in *AccountInput, a *usher.Account) (ssoName string, err error) {
	switch in.AuthSystem {
	case "", usher.AuthPassword, usher.AuthConnection:
	default:
		return "", usher.Invalid("auth_system", "must be %q or %q", usher.AuthPassword, usher.AuthConnection)
	}
	var conn *usher.Connection
	if in.ConnectionID != "" {
		c, err := r.Connection(ctx, tenant.ID, in.ConnectionID)
		if errors.Is(err, usher.ErrNotFound) {
			return "", usher.Unknown("connection_id", "connection")
		} else if err != nil {
			return "", err
		}
		if c.DeactivatedAt != nil {
			return "", usher.Invalid("connection_id", "the connection is deactivated")
		}
		conn = &c
	} else if in.Route == RouteRegistration || org.Kind == usher.OrgInternal || in.AuthSystem == usher.AuthConnection {
		realm, err := s.homeRealm(ctx, r, tenant, a.Email, nil)
		if err != nil {
			return "", err
		}
		if in.Route == RouteRegistration {
			// Only a connection that owns the email's domain: the one
			// connection of a tenant does not take over everyone who registers.
			conn = realm.Owner()
		} else if conn, err = realm.ForEmployee(); err != nil {
			return "", err
		}
	}
	switch {
	case in.AuthSystem == usher.AuthConnection && conn == nil:
		return "", usher.Invalid("auth_system", "the tenant has no corporate SSO connection to use")
	case conn == nil || (in.AuthSystem == usher.AuthPassword && org.Kind == usher.OrgExternal && in.ConnectionID == ""):
		a.AuthSystem = usher.AuthPassword
	case in.AuthSystem == usher.AuthPassword:
		if org.Kind == usher.OrgInternal && (in.Route != RouteAccountForPerson || conn.Enforced) {
			return "", usher.Invalid("auth_system", "internal users of this tenant sign in with the corporate SSO connection %q", conn.Name)
		}
		a.AuthSystem = usher.AuthPassword
	default:
		a.AuthSystem, a.ConnectionID = usher.AuthConnection, conn.ID
		return conn.Name, nil
	}
	return "", nil
}

func dedupe(ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id != "" && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// Message kinds.
const (
	KindInvitation     = "invitation"
	KindWelcome        = "welcome"
	KindActivation     = "activation"
	KindPasswordReset  = "password_reset"
	KindRegistration   = "registration"
	KindIdentityJoined = "identity_joined"
	// KindLinkAuthorize asks a person to authorize a linked external
	// account; KindLinkReauthorize, to reconnect one that stopped working.
	// LinkMessages renders them.
	KindLinkAuthorize   = "link_authorize"
	KindLinkReauthorize = "link_reauthorize"
)

// activate sends an invited account its activation.
func (s *Service) activate(ctx context.Context, tx *store.Tx, tenant usher.Tenant, person usher.Person, a usher.Account, kind string) ([]usher.Message, error) {
	if a.State != usher.StateInvited {
		return nil, nil
	}
	if kind == "" {
		kind = KindInvitation
	}
	exp := tx.Now().Add(activationTTL(tenant))
	if a.InviteExpiresAt != nil {
		exp = *a.InviteExpiresAt
	}
	return s.sendSecrets(ctx, tx, tenant, person, a, kind, exp)
}

// sendSecrets creates the account's activation secrets and queues its
// messages in tx.
func (s *Service) sendSecrets(ctx context.Context, tx *store.Tx, tenant usher.Tenant, person usher.Person, a usher.Account, kind string, expires time.Time) ([]usher.Message, error) {
	ssoName := ""
	if a.AuthSystem != usher.AuthPassword {
		if c, err := tx.Connection(ctx, tenant.ID, a.ConnectionID); err == nil {
			ssoName = c.Name
		}
	}
	o, err := s.prepareSecrets(tenant, person, a, kind, tx.Now(), expires, ssoName)
	if err != nil {
		return nil, err
	}
	return o.Queue(ctx, tx, tenant.ID)
}

// Outbox is an account's rendered messages, and for an activation its new
// secrets, ready to queue: made outside the write transaction (rendering
// and hashing take time, and on SQLite every write waits for the one
// writer), queued inside it with Queue. The zero Outbox queues nothing.
type Outbox struct {
	acts []store.Activation
	msgs []usher.Message
}

// channel is a way to reach an account: usher.ChannelEmail or
// usher.ChannelSMS, and the address.
type channel struct{ name, to string }

// channels lists the channels the tenant enables and the account has an
// address for: both when both apply (seed 003).
func channels(tenant usher.Tenant, a usher.Account) []channel {
	var out []channel
	if a.Email != "" && tenant.Settings.EmailEnabled {
		out = append(out, channel{usher.ChannelEmail, a.Email})
	}
	if a.Phone != "" && tenant.Settings.SMSEnabled {
		out = append(out, channel{usher.ChannelSMS, a.Phone})
	}
	return out
}

// prepareSecrets makes the account's activation secrets and renders its
// messages for every channel the tenant enables and the person has an
// address for: both when both apply (seed 003). A password account gets a
// single-use link, and with an SMS also a short code; an SSO account is told
// to sign in with its company account. No message carries a password.
func (s *Service) prepareSecrets(tenant usher.Tenant, person usher.Person, a usher.Account, kind string, now, expires time.Time, ssoName string) (Outbox, error) {
	channels := channels(tenant, a)
	var o Outbox
	if len(channels) == 0 {
		return o, nil
	}
	d := renderData{tenant: tenant, person: person, account: a, expires: expires.Sub(now)}
	if a.AuthSystem == usher.AuthPassword {
		secret, hash := secret.New()
		o.acts = append(o.acts, store.Activation{AccountID: a.ID, SecretHash: hash, Kind: "link", ExpiresAt: expires})
		d.link = s.links.Activation(tenant, secret)
	} else {
		d.link = s.links.SignIn(tenant)
		d.sso = true
		d.ssoName = ssoName
	}
	for _, ch := range channels {
		cd := d
		if ch.name == usher.ChannelSMS && a.AuthSystem == usher.AuthPassword {
			cd.code = numericCode(CodeDigits)
			o.acts = append(o.acts, store.Activation{AccountID: a.ID, SecretHash: codeHash(a.ID, cd.code), Kind: "code", ExpiresAt: now.Add(CodeTTL)})
		}
		m, err := s.render(kind, ch.name, cd)
		if err != nil {
			return o, err
		}
		m.AccountID, m.To, m.Channel = a.ID, ch.to, ch.name
		// One message per event and channel: the link is unique to this
		// event. The account id first keeps the key's index appending.
		m.DedupeKey = a.ID + "/" + secret.Hash(kind+"|"+a.ID+"|"+d.link+"|"+ch.name)
		o.msgs = append(o.msgs, m)
	}
	return o, nil
}

// Queue writes the secrets and queues the messages in tx, the caller's
// write transaction, so that they commit (or roll back) with the change
// that sends them. It returns the queued messages. It stores copies, so a
// retried transaction stores them afresh.
func (o Outbox) Queue(ctx context.Context, tx *store.Tx, tenantID string) ([]usher.Message, error) {
	for _, a := range o.acts {
		if err := tx.InsertActivation(ctx, tenantID, &a); err != nil {
			return nil, err
		}
	}
	var out []usher.Message
	for _, m := range o.msgs {
		if err := tx.AddMessage(ctx, tenantID, &m); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

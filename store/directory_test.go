package store_test

// The directory as stored: tenants kept apart, identifiers unique as
// constraints, identities, tokens and paging.

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/store"
)

// testCrossTenant stores one of every kind of object in tenant A and checks
// that the store, asked in tenant B, neither finds, lists, changes nor uses
// any of them.
func testCrossTenant(t *testing.T, e *env) {
	a, b := e.tenant("alpha", ""), e.tenant("bravo", "")
	planA := e.plan(a, "std", 10)
	a = e.withDefaultPlan(a, planA)
	b = e.withDefaultPlan(b, e.plan(b, "std", 10))
	c, err := e.newUser(a, "Ann", "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	orgA := e.org(a, "Partner", "")
	siteA := e.org(a, "Partner Main Site", orgA.ID)
	link := e.signupLink(a, usher.SignupLink{MaxUses: 5})
	attrs := map[string]usher.Attribute{}
	conn := usher.Connection{Name: "Entra", Protocol: "oidc", Issuer: "https://login.example.com", Domains: []string{"corp.example"}}
	tok := usher.APIToken{Name: "ci", Role: usher.AdminUser}
	act := store.Activation{AccountID: c.Account.ID, SecretHash: "hash-of-ann", Kind: "link", ExpiresAt: e.clock.Now().Add(time.Hour)}
	msg := usher.Message{Kind: "invitation", Channel: usher.ChannelEmail, To: "ann@example.com", AccountID: c.Account.ID, Language: "en", Body: "hi"}
	e.write(func(tx *store.Tx) error {
		for _, k := range []string{usher.KindRole, usher.KindDepartment, usher.KindJobProfile, usher.KindGroup} {
			at := usher.Attribute{Key: "x", Name: "X"}
			if err := tx.InsertAttribute(e.ctx, a.ID, k, &at); err != nil {
				return err
			}
			attrs[k] = at
		}
		if err := tx.InsertConnection(e.ctx, a.ID, &conn); err != nil {
			return err
		}
		if err := tx.InsertToken(e.ctx, a.ID, &tok, "hash-of-ci"); err != nil {
			return err
		}
		if err := tx.InsertActivation(e.ctx, a.ID, &act); err != nil {
			return err
		}
		if _, err := tx.QueueMessage(e.ctx, a.ID, &msg); err != nil {
			return err
		}
		if err := tx.SetRelationship(e.ctx, a.ID, siteA.ID, c.Person.ID, []string{usher.PrimaryContactRole}); err != nil {
			return err
		}
		return tx.InsertAudit(e.ctx, a.ID, &usher.AuditEvent{ActorKind: "system", Action: "account.created", TargetKind: "account", TargetID: c.Account.ID})
	})

	r := e.st.Read()
	ctx := e.ctx
	checks := map[string]error{}
	_, checks["person"] = r.Person(ctx, b.ID, c.Person.ID)
	_, checks["account"] = r.Account(ctx, b.ID, c.Account.ID)
	_, checks["account by person"] = r.AccountOfPerson(ctx, b.ID, c.Person.ID)
	_, checks["account by login"] = r.AccountByLogin(ctx, b.ID, "ann@example.com")
	_, checks["user record by login"] = r.UserRecordByLogin(ctx, b.ID, "ann@example.com")
	_, checks["organization"] = r.Organization(ctx, b.ID, orgA.ID)
	_, checks["site"] = r.Organization(ctx, b.ID, siteA.ID)
	_, checks["plan"] = r.Plan(ctx, b.ID, planA.ID)
	_, checks["connection"] = r.Connection(ctx, b.ID, conn.ID)
	_, checks["connection by domain"] = r.ConnectionForDomain(ctx, b.ID, "corp.example")
	_, checks["message"] = r.Message(ctx, b.ID, msg.ID)
	_, checks["activation"] = r.ActivationByHash(ctx, b.ID, act.SecretHash)
	_, checks["sign-up link"] = r.SignupLink(ctx, b.ID, link.ID)
	_, checks["sign-up link by code"] = r.SignupLinkByCode(ctx, b.ID, link.Code)
	for k, at := range attrs {
		_, checks[k] = r.Attribute(ctx, b.ID, k, at.ID)
	}
	for what, err := range checks {
		if !errors.Is(err, usher.ErrNotFound) {
			t.Errorf("%s of tenant A read in tenant B: got %v, want not found", what, err)
		}
	}

	// Lists in B show nothing of A: B has no objects of these kinds.
	persons, _, err1 := r.Persons(ctx, b.ID, store.PersonFilter{}, store.ListOptions{})
	accounts, _, err2 := r.Accounts(ctx, b.ID, store.AccountFilter{}, store.ListOptions{})
	msgs, _, err3 := r.Messages(ctx, b.ID, store.MessageFilter{}, store.ListOptions{})
	events, _, err4 := r.AuditEvents(ctx, b.ID, store.AuditFilter{}, store.ListOptions{})
	toks, _, err5 := r.Tokens(ctx, b.ID, store.ListOptions{})
	conns, _, err6 := r.Connections(ctx, b.ID, false, store.ListOptions{})
	roles, _, err7 := r.Attributes(ctx, b.ID, usher.KindRole, false, store.ListOptions{})
	links, _, err8 := r.SignupLinks(ctx, b.ID, store.SignupLinkFilter{}, store.ListOptions{})
	rels, err9 := r.Relationships(ctx, b.ID, store.RelationshipFilter{SiteID: siteA.ID})
	acts, err10 := r.Activations(ctx, b.ID, c.Account.ID)
	byPerson, err11 := r.AccountsOfPersons(ctx, b.ID, []string{c.Person.ID})
	byState, err12 := r.AccountCounts(ctx, b.ID)
	records, err13 := r.UserRecords(ctx, b.ID, []string{c.Account.ID})
	if err := errors.Join(err1, err2, err3, err4, err5, err6, err7, err8, err9, err10, err11, err12, err13); err != nil {
		t.Fatal(err)
	}
	if n := []int{len(persons), len(accounts), len(msgs), len(events), len(toks), len(conns), len(roles), len(links), len(rels), len(acts),
		len(byPerson), len(byState), len(records)}; slices.Max(n) != 0 {
		t.Errorf("tenant B lists show tenant A's objects: %d persons, %d accounts, %d messages, %d events, %d tokens, %d connections, %d roles, "+
			"%d sign-up links, %d relationships, %d activations, %d accounts by person, %d account states, %d user records", n[0], n[1], n[2], n[3], n[4], n[5],
			n[6], n[7], n[8], n[9], n[10], n[11], n[12])
	}
	// B's own plans and organizations, and none of A's.
	plans, _, _ := r.Plans(ctx, b.ID, false, store.ListOptions{})
	orgs, _, _ := r.Organizations(ctx, b.ID, store.OrganizationFilter{}, store.ListOptions{})
	if len(plans) != 1 || plans[0].ID == planA.ID || len(orgs) != 1 || orgs[0].ID != b.InternalOrgID {
		t.Errorf("tenant B's plans %+v and organizations %+v", plans, orgs)
	}

	// Changes in B addressed at A's ids are not found, or find nothing to change.
	name := "Hijacked"
	person := c.Person
	person.FirstName = name
	acct := c.Account
	acct.State = usher.StateDeactivated
	org := orgA
	org.Name = name
	role := attrs[usher.KindRole]
	role.Name = name
	plan := planA
	plan.Seats = 0
	conn2 := conn
	conn2.Name = name
	link2 := link
	link2.Name = name
	changes := []struct {
		what, field string
		fn          func(tx *store.Tx) error
	}{
		{"person", "person_id", func(tx *store.Tx) error { return tx.UpdatePerson(ctx, b.ID, &person) }},
		{"account", "account_id", func(tx *store.Tx) error { old := c.Account; return tx.UpdateAccount(ctx, b.ID, &old, &acct) }},
		{"organization", "organization_id", func(tx *store.Tx) error { return tx.UpdateOrganization(ctx, b.ID, &org) }},
		{"role", "id", func(tx *store.Tx) error { return tx.UpdateAttribute(ctx, b.ID, usher.KindRole, &role) }},
		{"plan", "plan_id", func(tx *store.Tx) error { return tx.UpdatePlan(ctx, b.ID, &plan) }},
		{"seat of the plan", "plan_id", func(tx *store.Tx) error { return tx.ClaimSeat(ctx, b.ID, planA.ID, c.Account.ID) }},
		{"connection", "connection_id", func(tx *store.Tx) error { return tx.UpdateConnection(ctx, b.ID, &conn2) }},
		{"token", "token_id", func(tx *store.Tx) error { return tx.RevokeToken(ctx, b.ID, tok.ID) }},
		{"sign-up link", "id", func(tx *store.Tx) error { return tx.UpdateSignupLink(ctx, b.ID, &link2) }},
	}
	for _, ch := range changes {
		var ue *usher.Error
		if err := e.st.Write(ctx, ch.fn); !errors.As(err, &ue) || ue.Code != usher.CodeNotFound || ue.Field != ch.field {
			t.Errorf("%s of tenant A changed in tenant B: got %v, want not found on %q", ch.what, err, ch.field)
		}
	}
	if err := e.useLink(b, link.ID); !errors.Is(err, usher.ErrSignupLinkUnknown) {
		t.Errorf("sign-up link of tenant A used in tenant B: %v", err)
	}
	if err := e.st.Write(ctx, func(tx *store.Tx) error { return tx.UseActivation(ctx, b.ID, act.ID) }); err == nil {
		t.Error("activation of tenant A used in tenant B")
	}
	e.write(func(tx *store.Tx) error {
		if err := tx.RevokeActivations(ctx, b.ID, c.Account.ID); err != nil {
			return err
		}
		return tx.ReleaseSeat(ctx, b.ID, c.Account.ID)
	})

	// A's objects are untouched.
	if p, err := r.Person(ctx, a.ID, c.Person.ID); err != nil || p.FirstName != "Ann" {
		t.Errorf("person of A: %+v %v", p, err)
	}
	if got, _ := r.Account(ctx, a.ID, c.Account.ID); got.State != usher.StateInvited {
		t.Errorf("account of A changed state to %s", got.State)
	}
	if got, _ := r.Organization(ctx, a.ID, orgA.ID); got.Name != "Partner" {
		t.Errorf("organization of A: %+v", got)
	}
	if got, _ := r.Attribute(ctx, a.ID, usher.KindRole, role.ID); got.Name != "X" {
		t.Errorf("role of A: %+v", got)
	}
	if got, _ := r.Plan(ctx, a.ID, planA.ID); got.Seats != 10 || got.SeatsUsed != 1 {
		t.Errorf("plan of A: %d of %d seats used, want 1 of 10", got.SeatsUsed, got.Seats)
	}
	if got, _ := r.Connection(ctx, a.ID, conn.ID); got.Name != "Entra" {
		t.Errorf("connection of A: %+v", got)
	}
	if got, _ := r.TokenByHash(ctx, "hash-of-ci"); got.RevokedAt != nil {
		t.Errorf("token of A revoked: %+v", got)
	}
	if got := e.readLink(a, link.ID); got.Name != "Link" || got.Uses != 0 {
		t.Errorf("sign-up link of A: %+v", got)
	}
	if acts, _ := r.Activations(ctx, a.ID, c.Account.ID); len(acts) != 1 || acts[0].UsedAt != nil {
		t.Errorf("activation of A: %+v", acts)
	}
}

// testContactEmail: a contact's email is unique within its organization,
// as a constraint of the store.
func testContactEmail(t *testing.T, e *env) {
	tn := e.tenant("acme", "")
	org1, org2 := e.org(tn, "One", ""), e.org(tn, "Two", "")
	mk := func(org, email string) (usher.Person, error) {
		p := usher.Person{OrganizationID: org, FirstName: "C", LastName: "D", Email: email}
		return p, e.st.Write(e.ctx, func(tx *store.Tx) error { return tx.InsertPerson(e.ctx, tn.ID, &p) })
	}
	if _, err := mk(org1.ID, "pat@example.com"); err != nil {
		t.Fatal(err)
	}
	_, err := mk(org1.ID, "pat@example.com")
	wantCode(t, err, usher.CodeConflict, "email")
	if _, err := mk(org2.ID, "pat@example.com"); err != nil {
		t.Fatalf("same email in another organization: %v", err)
	}
	// Persons without email do not collide.
	for range 2 {
		if _, err := mk(org1.ID, ""); err != nil {
			t.Fatal(err)
		}
	}
	// Changing a contact's email to a taken one is a conflict too, and changes nothing.
	p, err := mk(org1.ID, "eve@example.com")
	if err != nil {
		t.Fatal(err)
	}
	p.Email = "pat@example.com"
	err = e.st.Write(e.ctx, func(tx *store.Tx) error { return tx.UpdatePerson(e.ctx, tn.ID, &p) })
	wantCode(t, err, usher.CodeConflict, "email")
	if got, _ := e.st.Read().Person(e.ctx, tn.ID, p.ID); got.Email != "eve@example.com" {
		t.Fatalf("after a refused change: %+v", got)
	}
	if got, _, _ := e.st.Read().Persons(e.ctx, tn.ID, store.PersonFilter{Email: "pat@example.com"}, store.ListOptions{}); len(got) != 2 {
		t.Fatalf("%d persons with the email, want one per organization", len(got))
	}
}

// testLoginIDs: an account's email, username and phone share one namespace
// per tenant, as a constraint of the store; usernames compare without case.
func testLoginIDs(t *testing.T, e *env) {
	tn := e.tenant("acme", "")
	other := e.tenant("other", "")
	tn = e.withDefaultPlan(tn, e.plan(tn, "std", 100))
	other = e.withDefaultPlan(other, e.plan(other, "std", 100))
	ids := usher.Account{Email: "j@example.com", Username: "jdoe", Phone: "+31612345678"}
	first, err := e.newAccount(tn, "J", ids)
	if err != nil {
		t.Fatal(err)
	}
	// An identifier of another account is a conflict naming the field it
	// was given in, whatever kind the other account holds it as.
	for _, c := range []struct {
		ids   usher.Account
		field string
	}{
		{usher.Account{Email: "j@example.com"}, "email"},
		{usher.Account{Email: "j2@example.com", Username: "JDOE"}, "username"},
		{usher.Account{Email: "j3@example.com", Phone: "+31612345678"}, "phone"},
		{usher.Account{Username: "j@example.com"}, "username"},
	} {
		_, err := e.newAccount(tn, "K", c.ids)
		wantCode(t, err, usher.CodeConflict, c.field)
	}
	// None of the refused writes left a person behind.
	persons, _, _ := e.st.Read().Persons(e.ctx, tn.ID, store.PersonFilter{}, store.ListOptions{})
	if len(persons) != 1 {
		t.Fatalf("refused writes left %d persons, want 1", len(persons))
	}
	// Another tenant may use the same identifiers.
	if _, err := e.newAccount(other, "J", ids); err != nil {
		t.Fatalf("same identifiers in another tenant: %v", err)
	}
	// Each identifier finds the account.
	for _, id := range []string{"j@example.com", "jdoe", "+31612345678"} {
		a, err := e.st.Read().AccountByLogin(e.ctx, tn.ID, id)
		if err != nil || a.ID != first.Account.ID {
			t.Errorf("lookup %q: %v %v", id, a.ID, err)
		}
	}
	// Changing the username frees the old one and takes the new one.
	old, upd := first.Account, first.Account
	upd.Username = "john.doe"
	e.write(func(tx *store.Tx) error { return tx.UpdateAccount(e.ctx, tn.ID, &old, &upd) })
	if _, err := e.st.Read().AccountByLogin(e.ctx, tn.ID, "jdoe"); !errors.Is(err, usher.ErrNotFound) {
		t.Errorf("old username still finds the account: %v", err)
	}
	if a, err := e.st.Read().AccountByLogin(e.ctx, tn.ID, "john.doe"); err != nil || a.ID != first.Account.ID {
		t.Errorf("new username: %v", err)
	}
	// Taking another account's identifier in a change is refused and changes nothing.
	second, err := e.newAccount(tn, "S", usher.Account{Email: "s@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	old, upd = second.Account, second.Account
	upd.Username = "John.Doe"
	err = e.st.Write(e.ctx, func(tx *store.Tx) error { return tx.UpdateAccount(e.ctx, tn.ID, &old, &upd) })
	wantCode(t, err, usher.CodeConflict, "username")
	if a, _ := e.st.Read().Account(e.ctx, tn.ID, second.Account.ID); a.Username != "" {
		t.Fatalf("a refused change was stored: %+v", a)
	}
	// A person has one account.
	err = e.st.Write(e.ctx, func(tx *store.Tx) error {
		return tx.InsertAccount(e.ctx, tn.ID, &usher.Account{PersonID: first.Person.ID, State: usher.StateInvited, AuthSystem: usher.AuthPassword,
			PlanID: tn.Settings.DefaultPlanID, Email: "again@example.com"})
	})
	wantCode(t, err, usher.CodeConflict, "person_id")
}

// testTokens: a token is found by the hash of its secret alone, whatever
// its tenant; revoking is the token's tenant's; the bootstrap operator
// token keeps its id while its secret changes.
func testTokens(t *testing.T, e *env) {
	tn, other := e.tenant("acme", ""), e.tenant("other", "")
	tok := usher.APIToken{Name: "hr sync", Role: usher.AdminUser}
	e.write(func(tx *store.Tx) error { return tx.InsertToken(e.ctx, tn.ID, &tok, "hash-1") })
	r := e.st.Read()
	got, err := r.TokenByHash(e.ctx, "hash-1")
	if err != nil || got.ID != tok.ID || got.TenantID != tn.ID || got.Role != usher.AdminUser || got.RevokedAt != nil {
		t.Fatalf("by hash: %+v %v", got, err)
	}
	if _, err := r.TokenByHash(e.ctx, "hash-2"); !errors.Is(err, usher.ErrUnauthorized) {
		t.Fatalf("unknown hash: %v", err)
	}
	err = e.st.Write(e.ctx, func(tx *store.Tx) error {
		return tx.InsertToken(e.ctx, other.ID, &usher.APIToken{Name: "copy", Role: usher.AdminUser}, "hash-1")
	})
	wantCode(t, err, usher.CodeConflict, "token")
	revoke := func(tenant, id string) error {
		return e.st.Write(e.ctx, func(tx *store.Tx) error { return tx.RevokeToken(e.ctx, tenant, id) })
	}
	wantCode(t, revoke(other.ID, tok.ID), usher.CodeNotFound, "token_id")
	if err := revoke(tn.ID, tok.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := r.TokenByHash(e.ctx, "hash-1"); err != nil || got.RevokedAt == nil {
		t.Fatalf("revoked token: %+v %v", got, err)
	}
	wantCode(t, revoke(tn.ID, tok.ID), usher.CodeNotFound, "token_id")
	if toks, _, _ := r.Tokens(e.ctx, other.ID, store.ListOptions{}); len(toks) != 0 {
		t.Fatalf("another tenant lists %d tokens", len(toks))
	}
	// A new bootstrap secret replaces the old hash, and undoes a revocation.
	boot := usher.APIToken{ID: "bootstrap-operator", Name: "bootstrap", Role: usher.PrincipalOperator}
	e.write(func(tx *store.Tx) error { return tx.EnsureToken(e.ctx, &boot, "boot-1") })
	if err := revoke("", boot.ID); err != nil {
		t.Fatal(err)
	}
	e.write(func(tx *store.Tx) error { return tx.EnsureToken(e.ctx, &boot, "boot-2") })
	if _, err := r.TokenByHash(e.ctx, "boot-1"); !errors.Is(err, usher.ErrUnauthorized) {
		t.Fatalf("old bootstrap hash still finds the token: %v", err)
	}
	op, err := r.TokenByHash(e.ctx, "boot-2")
	if err != nil || op.ID != boot.ID || op.TenantID != "" || op.Role != usher.PrincipalOperator || op.RevokedAt != nil {
		t.Fatalf("bootstrap: %+v %v", op, err)
	}
	if ops, _, _ := r.Tokens(e.ctx, "", store.ListOptions{}); len(ops) != 1 || ops[0].ID != boot.ID {
		t.Fatalf("operator tokens: %+v", ops)
	}
}

func testPaging(t *testing.T, e *env) {
	tn := e.tenant("acme", "")
	tn = e.withDefaultPlan(tn, e.plan(tn, "std", 100))
	for i := range 23 {
		if _, err := e.newUser(tn, fmt.Sprintf("P%02d", i), fmt.Sprintf("p%02d@example.com", i)); err != nil {
			t.Fatal(err)
		}
	}
	var all []string
	cursor := ""
	for pages := 0; ; pages++ {
		items, next, err := e.st.Read().Persons(e.ctx, tn.ID, store.PersonFilter{}, store.ListOptions{After: cursor, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range items {
			all = append(all, p.FirstName)
		}
		if next == "" {
			if pages != 2 {
				t.Fatalf("%d pages", pages+1)
			}
			break
		}
		cursor = next
	}
	if len(all) != 23 || all[0] != "P00" || all[22] != "P22" {
		t.Fatalf("paged: %v", all)
	}
	got, _, _ := e.st.Read().Persons(e.ctx, tn.ID, store.PersonFilter{Name: "p1"}, store.ListOptions{})
	if len(got) != 10 {
		t.Fatalf("name prefix filter: %d", len(got))
	}
	got, _, _ = e.st.Read().Persons(e.ctx, tn.ID, store.PersonFilter{Name: "%"}, store.ListOptions{})
	if len(got) != 0 {
		t.Fatalf("a %% in a filter must match literally, matched %d", len(got))
	}
}

func testIdentity(t *testing.T, e *env) {
	a, b := e.tenant("alpha", ""), e.tenant("bravo", "")
	a = e.withDefaultPlan(a, e.plan(a, "std", 5))
	b = e.withDefaultPlan(b, e.plan(b, "std", 5))
	ca, err := e.newUser(a, "Ida", "ida@example.com")
	if err != nil {
		t.Fatal(err)
	}
	cb, err := e.newUser(b, "Ida", "ida@example.com")
	if err != nil {
		t.Fatal(err)
	}
	id := usher.Identity{Email: "ida@example.com"}
	err = e.st.Write(e.ctx, func(tx *store.Tx) error {
		if err := tx.InsertIdentity(e.ctx, &id, "argon2id-hash"); err != nil {
			return err
		}
		for _, c := range []created{ca, cb} {
			old := c.Account
			acct := c.Account
			acct.IdentityID = id.ID
			if err := tx.UpdateAccount(e.ctx, old.TenantID, &old, &acct); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = e.st.Write(e.ctx, func(tx *store.Tx) error {
		return tx.InsertIdentity(e.ctx, &usher.Identity{Email: "ida@example.com"}, "")
	})
	wantCode(t, err, usher.CodeConflict, "email")
	got, err := e.st.Read().IdentityByEmail(e.ctx, "ida@example.com")
	if err != nil || got.ID != id.ID {
		t.Fatalf("identity by email: %+v %v", got, err)
	}
	accts, err := e.st.Read().AccountsOfIdentity(e.ctx, id.ID)
	if err != nil || len(accts) != 2 || accts[0].TenantSlug != "alpha" || accts[1].TenantSlug != "bravo" {
		t.Fatalf("accounts of the identity: %+v %v", accts, err)
	}
}

// testUserRecords reads accounts with their persons and their sources'
// descriptions in one query: with a description and without, by id and
// by login.
func testUserRecords(t *testing.T, e *env) {
	a := e.tenant("alpha", "")
	a = e.withDefaultPlan(a, e.plan(a, "std", 10))
	ann, err := e.newUser(a, "Ann", "ann@example.com")
	if err != nil {
		t.Fatal(err)
	}
	bob, err := e.newUser(a, "Bob", "bob@example.com")
	if err != nil {
		t.Fatal(err)
	}
	src := store.SourceUser{AccountID: ann.Account.ID, SourceID: "source-1", Emails: []string{"ann@example.com", "a.n@example.com"}, Data: `{"userName":"ann"}`}
	e.write(func(tx *store.Tx) error { return tx.InsertSourceUser(e.ctx, a.ID, &src) })

	r := e.st.Read()
	got, err := r.UserRecords(e.ctx, a.ID, []string{ann.Account.ID, bob.Account.ID, "no-such-account"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d records, want 2: %+v", len(got), got)
	}
	for _, c := range []created{ann, bob} {
		u := got[c.Account.ID]
		if u.Account.ID != c.Account.ID || u.Account.Email != c.Account.Email || u.Account.PlanID != a.Settings.DefaultPlanID ||
			u.Person.ID != c.Person.ID || u.Person.FirstName != c.Person.FirstName || u.Person.TenantID != a.ID || u.Person.CreatedAt.IsZero() {
			t.Errorf("record of %s: %+v", c.Account.Email, u)
		}
	}
	if got[bob.Account.ID].Source != nil {
		t.Errorf("Bob has no description, got %+v", got[bob.Account.ID].Source)
	}
	s := got[ann.Account.ID].Source
	if s == nil || s.AccountID != ann.Account.ID || s.SourceID != "source-1" || !slices.Equal(s.Emails, src.Emails) || s.Data != src.Data ||
		!s.UpdatedAt.Equal(e.clock.Now().UTC().Truncate(time.Microsecond)) {
		t.Errorf("Ann's description: %+v, want %+v", s, src)
	}
	byLogin, err := r.UserRecordByLogin(e.ctx, a.ID, "ann@example.com")
	if err != nil || byLogin.Account.ID != ann.Account.ID || byLogin.Person.ID != ann.Person.ID || byLogin.Source == nil {
		t.Errorf("Ann by login: %+v, %v", byLogin, err)
	}
	if _, err := r.UserRecordByLogin(e.ctx, a.ID, "nobody@example.com"); !errors.Is(err, usher.ErrNotFound) {
		t.Errorf("an unknown login: %v, want not found", err)
	}

	// By email: a login, a person's email, or any email a source gave,
	// and no longer one the source took back.
	byEmail := func(email string, want ...string) {
		t.Helper()
		got, err := r.AccountIDsByEmail(e.ctx, a.ID, email)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("accounts of %s: %v, %v; want %v", email, got, err, want)
		}
	}
	byEmail("bob@example.com", bob.Account.ID)
	byEmail("a.n@example.com", ann.Account.ID)
	byEmail("nobody@example.com")
	src.Emails = []string{"ann@example.com", "ann.other@example.com", "ann.other@example.com"}
	e.write(func(tx *store.Tx) error { return tx.PutSourceUser(e.ctx, a.ID, &src) })
	byEmail("a.n@example.com")
	byEmail("ann.other@example.com", ann.Account.ID)
	if ids, err := r.AccountIDsByEmail(e.ctx, "other-tenant", "ann.other@example.com"); err != nil || len(ids) != 0 {
		t.Errorf("another tenant found %v, %v", ids, err)
	}
}

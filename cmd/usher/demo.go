package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/catalog"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/store"
)

// seedDemo creates the "demo" tenant, once, with a little of everything so
// that every way in can be tried at once: plans with seats, roles,
// departments, job profiles, groups, a partner with a site, and people.
func seedDemo(ctx context.Context, svc *provision.Service, st *store.Store) error {
	if _, err := st.Read().TenantBySlug(ctx, "demo"); err == nil {
		return nil
	} else if !errors.Is(err, usher.ErrNotFound) {
		return err
	}
	op := usher.Actor{Kind: usher.ActorSystem, ID: "demo", Role: usher.PrincipalOperator}
	cat := catalog.New(st, svc)
	t, err := svc.CreateTenant(ctx, op, provision.TenantInput{Slug: "demo", Name: "Demo Company"})
	if err != nil {
		return err
	}
	str := func(s string) *string { return &s }
	num := func(n int) *int { return &n }
	standard, err := cat.CreatePlan(ctx, op, t, catalog.PlanInput{Key: "standard", Name: str("Standard"), Seats: num(50)})
	if err != nil {
		return err
	}
	if _, err := cat.CreatePlan(ctx, op, t, catalog.PlanInput{Key: "professional", Name: str("Professional"), Seats: num(5)}); err != nil {
		return err
	}
	ids := map[string]string{}
	for _, a := range []struct{ kind, key, name string }{
		{usher.KindRole, "user", "User"}, {usher.KindRole, "manager", "Manager"},
		{usher.KindDepartment, "sales", "Sales"}, {usher.KindDepartment, "support", "Support"},
		{usher.KindJobProfile, "account-manager", "Account manager"}, {usher.KindJobProfile, "agent", "Support agent"},
		{usher.KindGroup, "emea", "EMEA"}, {usher.KindGroup, "americas", "Americas"},
	} {
		attr, err := cat.CreateAttribute(ctx, op, t, a.kind, catalog.AttributeInput{Key: a.key, Name: str(a.name)})
		if err != nil {
			return err
		}
		ids[a.kind+"/"+a.key] = attr.ID
	}
	settings := t.Settings
	settings.DefaultPlanID = standard.ID
	settings.DefaultRoleID = ids[usher.KindRole+"/user"]
	settings.Registration = "open"
	settings.RegistrationDepartment = true
	if t, err = svc.UpdateTenant(ctx, op, t.ID, provision.TenantUpdate{Settings: &settings}); err != nil {
		return err
	}
	partner, err := svc.CreateOrganization(ctx, op, t, provision.OrganizationInput{Name: str("Northwind Traders")})
	if err != nil {
		return err
	}
	if _, err := svc.CreateOrganization(ctx, op, t, provision.OrganizationInput{Name: str("Northwind Traders Main Site"), ParentID: partner.ID}); err != nil {
		return err
	}
	// The administrator gets in with the one-time password printed at
	// start, so no invitation is made for her: one that says "7 days" for a
	// link her one-time password has already replaced would be untrue.
	quiet := t
	quiet.Settings.EmailEnabled, quiet.Settings.SMSEnabled = false, false
	if _, err := svc.CreateAccount(ctx, op, quiet, provision.AccountInput{Route: provision.RouteNewUser, AdminRole: usher.AdminTenant,
		RoleID: ids[usher.KindRole+"/manager"], PrimaryGroupID: ids[usher.KindGroup+"/emea"],
		Person: &provision.PersonInput{FirstName: "Ada", LastName: "Admin", Email: "ada@demo.example", DepartmentID: ids[usher.KindDepartment+"/sales"]}}); err != nil {
		return err
	}
	if _, err := svc.CreatePerson(ctx, op, t, provision.PersonInput{OrganizationID: partner.ID, FirstName: "Nina", LastName: "North", Email: "nina@northwind.example"}); err != nil {
		return err
	}
	return nil
}

// demoHome is the tenant usher's own address leads to: the demo's, when
// it runs one.
func demoHome(c config) string {
	if c.Demo {
		return "demo"
	}
	return ""
}

// demoAdmin is the demo tenant's administrator.
const demoAdmin = "ada@demo.example"

// demoWayIn says how the demo's administrator signs in to the console.
// Until she has chosen a password she gets a fresh one-time password at
// each start (the last one cannot be shown again: only its hash is kept),
// printed, never sent; the first sign-in with it asks for a password of
// her own. After that the start-up lines only say to use it.
func demoWayIn(ctx context.Context, svc *provision.Service, st *store.Store) (string, error) {
	t, err := st.Read().TenantBySlug(ctx, "demo")
	if err != nil {
		return "", err
	}
	a, err := st.Read().AccountByLogin(ctx, t.ID, demoAdmin)
	if err != nil {
		return "", err
	}
	switch a.State {
	case usher.StateActive:
		return "with the password chosen at the first sign-in", nil
	case usher.StateInvited:
	default:
		return "", fmt.Errorf("the demo administrator's account is %s", a.State)
	}
	otp, err := svc.SetOneTimePassword(ctx, usher.Actor{Kind: usher.ActorSystem, ID: "demo", Role: usher.PrincipalOperator}, t, a.ID, "")
	if err != nil {
		return "", err
	}
	return "with the one-time password " + otp, nil
}

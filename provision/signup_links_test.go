package provision_test

// Sign-up links: their rules, refusals and invisibility across tenants.

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/catalog"
	"github.com/usherhq/usher/signup"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/store/storetest"
)

func strp(s string) *string { return &s }
func intp(n int) *int       { return &n }

func (e *env) signupLink(tn usher.Tenant, in signup.SignupLinkInput) usher.SignupLink {
	e.t.Helper()
	if in.Name == nil {
		in.Name = strp("Link")
	}
	l, err := e.signup.CreateSignupLink(e.ctx, userAdm, tn, in)
	if err != nil {
		e.t.Fatalf("create sign-up link: %v", err)
	}
	return l
}

// readLink reads a link as stored now.
func (e *env) readLink(tn usher.Tenant, id string) usher.SignupLink {
	e.t.Helper()
	l, err := e.st.Read().SignupLink(e.ctx, tn.ID, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return l
}

// useLink uses a link as a registration does (storetest.UseSignupLink).
func (e *env) useLink(tn usher.Tenant, id string) error {
	return storetest.UseSignupLink(e.ctx, e.st, tn.ID, id)
}

func testSignupLinkRules(t *testing.T, e *env) {
	tn := e.tenant("acme", "")
	other := e.tenant("globex", "")
	p := e.plan(tn, "std", 3)
	dept, job, role := e.attr(tn, usher.KindDepartment, "warehouse"), e.attr(tn, usher.KindJobProfile, "picker"), e.attr(tn, usher.KindRole, "worker")
	foreignDept := e.attr(other, usher.KindDepartment, "theirs")
	old := e.attr(tn, usher.KindDepartment, "old")
	off := true
	if _, err := e.catalog.UpdateAttribute(e.ctx, tenantAdm, tn, usher.KindDepartment, old.ID, catalog.AttributeInput{Deactivated: &off}); err != nil {
		t.Fatal(err)
	}

	// Every unknown reference is named at once, another tenant's included.
	_, err := e.signup.CreateSignupLink(e.ctx, userAdm, tn, signup.SignupLinkInput{Name: strp("Bad"), DepartmentID: strp(foreignDept.ID),
		JobProfileID: strp(dept.ID), RoleID: strp("nope"), PlanID: strp(other.ID)})
	for _, f := range []string{"department_id", "job_profile_id", "role_id", "plan_id"} {
		if !hasField(err, f) {
			t.Errorf("unknown %s not reported: %v", f, err)
		}
	}
	_, err = e.signup.CreateSignupLink(e.ctx, userAdm, tn, signup.SignupLinkInput{Name: strp("Old"), DepartmentID: strp(old.ID)})
	wantCode(t, err, usher.CodeInvalid, "department_id")
	_, err = e.signup.CreateSignupLink(e.ctx, userAdm, tn, signup.SignupLinkInput{Name: strp("Past"), ExpiresAt: strp(e.clock.Now().Add(-time.Minute).Format(time.RFC3339))})
	wantCode(t, err, usher.CodeInvalid, "expires_at")
	_, err = e.signup.CreateSignupLink(e.ctx, userAdm, tn, signup.SignupLinkInput{Name: strp("Neg"), MaxUses: intp(-1)})
	wantCode(t, err, usher.CodeInvalid, "max_uses")
	_, err = e.signup.CreateSignupLink(e.ctx, userAdm, tn, signup.SignupLinkInput{})
	wantCode(t, err, usher.CodeInvalid, "name")
	_, err = e.signup.CreateSignupLink(e.ctx, usher.Actor{Kind: "token", ID: "x"}, tn, signup.SignupLinkInput{Name: strp("No rights")})
	wantCode(t, err, usher.CodeForbidden, "")
	if got, _, _ := e.st.Read().SignupLinks(e.ctx, tn.ID, store.SignupLinkFilter{}, store.ListOptions{}); len(got) != 0 {
		t.Fatalf("refused creations stored %d links", len(got))
	}

	// A department's link with all its defaults; no seat is taken by it.
	exp := e.clock.Now().Add(48 * time.Hour)
	l := e.signupLink(tn, signup.SignupLinkInput{Name: strp(" Warehouse QR "), DepartmentID: strp(dept.ID), JobProfileID: strp(job.ID),
		RoleID: strp(role.ID), PlanID: strp(p.ID), ExpiresAt: strp(exp.Format(time.RFC3339)), MaxUses: intp(10)})
	if l.Name != "Warehouse QR" || l.DepartmentID != dept.ID || l.JobProfileID != job.ID || l.RoleID != role.ID || l.PlanID != p.ID ||
		l.ExpiresAt == nil || !l.ExpiresAt.Equal(exp) || l.MaxUses != 10 || l.Uses != 0 || l.Status != usher.SignupActive || len(l.Code) != 22 {
		t.Fatalf("created: %+v", l)
	}
	if got := e.readLink(tn, l.ID); got.Code != l.Code || !got.CreatedAt.Equal(l.CreatedAt) || got.Status != usher.SignupActive {
		t.Fatalf("read back %+v, created %+v", got, l)
	}
	if got, _ := e.st.Read().Plan(e.ctx, tn.ID, p.ID); got.SeatsUsed != 0 {
		t.Fatalf("a link took %d seats", got.SeatsUsed)
	}
	if d := signup.SignupDefaults(l); d.DepartmentID != dept.ID || d.PlanID != p.ID || d.RoleID != role.ID || d.JobProfileID != job.ID {
		t.Fatalf("defaults: %+v", d)
	}
	tenantWide := e.signupLink(tn, signup.SignupLinkInput{Name: strp("Everyone")})
	if tenantWide.Code == l.Code || tenantWide.DepartmentID != "" || tenantWide.ExpiresAt != nil || tenantWide.MaxUses != 0 {
		t.Fatalf("tenant link: %+v", tenantWide)
	}

	// Changes: a deactivated department no longer stops a rename, only its choice.
	if _, err := e.catalog.UpdateAttribute(e.ctx, tenantAdm, tn, usher.KindJobProfile, job.ID, catalog.AttributeInput{Deactivated: &off}); err != nil {
		t.Fatal(err)
	}
	l2, err := e.signup.UpdateSignupLink(e.ctx, userAdm, tn, l.ID, signup.SignupLinkInput{Name: strp("Warehouse"), ExpiresAt: strp(""), MaxUses: intp(0)})
	if err != nil || l2.Name != "Warehouse" || l2.ExpiresAt != nil || l2.MaxUses != 0 || l2.JobProfileID != job.ID {
		t.Fatalf("update: %+v %v", l2, err)
	}
	_, err = e.signup.UpdateSignupLink(e.ctx, userAdm, tn, l.ID, signup.SignupLinkInput{JobProfileID: strp(job.ID)})
	wantCode(t, err, usher.CodeInvalid, "job_profile_id")
	_, err = e.signup.UpdateSignupLink(e.ctx, userAdm, tn, l.ID, signup.SignupLinkInput{DepartmentID: strp(foreignDept.ID)})
	wantCode(t, err, usher.CodeInvalid, "department_id")
	l2, err = e.signup.UpdateSignupLink(e.ctx, userAdm, tn, l.ID, signup.SignupLinkInput{JobProfileID: strp("")})
	if err != nil || l2.JobProfileID != "" {
		t.Fatalf("clearing the job profile: %+v %v", l2, err)
	}
	l2, err = e.signup.DeactivateSignupLink(e.ctx, userAdm, tn, l.ID)
	if err != nil || l2.DisabledAt == nil || l2.Status != usher.SignupDisabled {
		t.Fatalf("disable: %+v %v", l2, err)
	}
	no := false
	l2, err = e.signup.UpdateSignupLink(e.ctx, tenantAdm, tn, l.ID, signup.SignupLinkInput{Disabled: &no})
	if err != nil || l2.DisabledAt != nil || l2.Status != usher.SignupActive {
		t.Fatalf("enable: %+v %v", l2, err)
	}

	// Lists: by department ("-": the tenant's own links) and by status.
	list := func(f store.SignupLinkFilter) []string {
		t.Helper()
		got, _, err := e.st.Read().SignupLinks(e.ctx, tn.ID, f, store.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, x := range got {
			names = append(names, x.Name)
		}
		return names
	}
	if got := list(store.SignupLinkFilter{DepartmentID: dept.ID}); !slices.Equal(got, []string{"Warehouse"}) {
		t.Fatalf("by department: %v", got)
	}
	if got := list(store.SignupLinkFilter{DepartmentID: "-"}); !slices.Equal(got, []string{"Everyone"}) {
		t.Fatalf("the tenant's links: %v", got)
	}
	if _, err := e.signup.DeactivateSignupLink(e.ctx, userAdm, tn, tenantWide.ID); err != nil {
		t.Fatal(err)
	}
	if got := list(store.SignupLinkFilter{Status: usher.SignupActive}); !slices.Equal(got, []string{"Warehouse"}) {
		t.Fatalf("active: %v", got)
	}
	if got := list(store.SignupLinkFilter{Status: usher.SignupDisabled}); !slices.Equal(got, []string{"Everyone"}) {
		t.Fatalf("disabled: %v", got)
	}

	// Every change is audited.
	events, _, _ := e.st.Read().AuditEvents(e.ctx, tn.ID, store.AuditFilter{Action: "signup_link."}, store.ListOptions{})
	var actions []string
	for _, ev := range events {
		actions = append(actions, ev.Action)
	}
	want := []string{"signup_link.created", "signup_link.created", "signup_link.updated", "signup_link.updated", "signup_link.disabled",
		"signup_link.updated", "signup_link.disabled"}
	if !slices.Equal(actions, want) {
		t.Fatalf("audit: %v, want %v", actions, want)
	}
	if events[0].TargetID != l.ID || events[0].ActorID != userAdm.ID || events[0].Details["department_id"] != dept.ID {
		t.Fatalf("creation event: %+v", events[0])
	}
}

func testSignupLinksCrossTenant(t *testing.T, e *env) {
	acme, globex := e.tenant("acme", ""), e.tenant("globex", "")
	l := e.signupLink(acme, signup.SignupLinkInput{})
	r := e.st.Read()
	_, err := r.SignupLink(e.ctx, globex.ID, l.ID)
	wantCode(t, err, usher.CodeNotFound, "id")
	_, err = r.SignupLinkByCode(e.ctx, globex.ID, l.Code)
	wantCode(t, err, usher.CodeNotFound, "code")
	if _, err := e.signup.SignupLinkByCode(e.ctx, globex, l.Code); !errors.Is(err, usher.ErrSignupLinkUnknown) {
		t.Fatalf("another tenant's code: %v", err)
	}
	if got, err := e.signup.SignupLinkByCode(e.ctx, acme, l.Code); err != nil || got.ID != l.ID {
		t.Fatalf("own code: %+v %v", got, err)
	}
	if got, _, _ := r.SignupLinks(e.ctx, globex.ID, store.SignupLinkFilter{}, store.ListOptions{}); len(got) != 0 {
		t.Fatalf("globex lists acme's links: %+v", got)
	}
	_, err = e.signup.UpdateSignupLink(e.ctx, userAdm, globex, l.ID, signup.SignupLinkInput{Name: strp("Mine now")})
	wantCode(t, err, usher.CodeNotFound, "id")
	_, err = e.signup.DeactivateSignupLink(e.ctx, userAdm, globex, l.ID)
	wantCode(t, err, usher.CodeNotFound, "id")
	if err := e.useLink(globex, l.ID); !errors.Is(err, usher.ErrSignupLinkUnknown) {
		t.Fatalf("using another tenant's link: %v", err)
	}
	if got := e.readLink(acme, l.ID); got.Uses != 0 || got.Name != "Link" || got.DisabledAt != nil {
		t.Fatalf("changed from another tenant: %+v", got)
	}
}

func testSignupLinkRefusals(t *testing.T, e *env) {
	tn := e.tenant("acme", "")
	auditCount := func() int {
		evs, _, _ := e.st.Read().AuditEvents(e.ctx, tn.ID, store.AuditFilter{Action: "test.registered"}, store.ListOptions{})
		return len(evs)
	}
	refuses := func(l usher.SignupLink, sentinel error, status, says string) {
		t.Helper()
		before := e.readLink(tn, l.ID)
		err := e.useLink(tn, l.ID)
		if !errors.Is(err, sentinel) || !strings.Contains(err.Error(), says) {
			t.Fatalf("use of %s link: %v, want %v saying %q", status, err, sentinel, says)
		}
		got, err := e.signup.SignupLinkByCode(e.ctx, tn, l.Code)
		var ue *usher.Error
		if !errors.Is(err, sentinel) || !errors.As(err, &ue) || !strings.Contains(ue.Message, says) || got.Status != status || got.ID != l.ID {
			t.Fatalf("by code: %+v %v, want %v with status %s", got, err, sentinel, status)
		}
		if after := e.readLink(tn, l.ID); after.Uses != before.Uses || !after.UpdatedAt.Equal(before.UpdatedAt) {
			t.Fatalf("a refused use changed the link: %+v -> %+v", before, after)
		}
	}

	used := e.signupLink(tn, signup.SignupLinkInput{MaxUses: intp(2)})
	for range 2 {
		if err := e.useLink(tn, used.ID); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.readLink(tn, used.ID); got.Uses != 2 || got.Status != usher.SignupUsedUp {
		t.Fatalf("after two uses: %+v", got)
	}
	refuses(used, usher.ErrSignupLinkUsedUp, usher.SignupUsedUp, "used as often")

	expiring := e.signupLink(tn, signup.SignupLinkInput{ExpiresAt: strp(e.clock.Now().Add(time.Hour).Format(time.RFC3339))})
	if err := e.useLink(tn, expiring.ID); err != nil {
		t.Fatal(err)
	}
	disabled := e.signupLink(tn, signup.SignupLinkInput{})
	if _, err := e.signup.DeactivateSignupLink(e.ctx, tenantAdm, tn, disabled.ID); err != nil {
		t.Fatal(err)
	}
	refuses(disabled, usher.ErrSignupLinkDisabled, usher.SignupDisabled, "disabled")

	e.clock.Advance(time.Hour) // expires_at is exclusive: at that instant it is expired
	refuses(expiring, usher.ErrSignupLinkExpired, usher.SignupExpired, "expired on "+expiring.ExpiresAt.Format("2 January 2006"))
	if got, _, _ := e.st.Read().SignupLinks(e.ctx, tn.ID, store.SignupLinkFilter{Status: usher.SignupExpired}, store.ListOptions{}); len(got) != 1 || got[0].ID != expiring.ID {
		t.Fatalf("expired list: %+v", got)
	}
	if auditCount() != 3 {
		t.Fatalf("%d registrations recorded, want the 3 allowed ones: a refused use must undo its write", auditCount())
	}

	// Unknown codes, and a code of the right length that matches nothing.
	for _, code := range []string{"", "x", strings.Repeat("A", 22), used.Code + "A"} {
		if _, err := e.signup.SignupLinkByCode(e.ctx, tn, code); !errors.Is(err, usher.ErrSignupLinkUnknown) {
			t.Fatalf("code %q: %v", code, err)
		}
	}
	if err := e.useLink(tn, "00000000-0000-0000-0000-000000000000"); !errors.Is(err, usher.ErrSignupLinkUnknown) {
		t.Fatalf("unknown id: %v", err)
	}
}

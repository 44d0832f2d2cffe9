package scim_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/catalog"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/scim"
	"github.com/usherhq/usher/store"
)

func init() {
	cases["Groups"] = testGroups
	cases["GroupsHandMembers"] = testGroupsHandMembers
	cases["ManagedBy"] = testManagedBy
	cases["SSOTenant"] = testSSOTenant
	cases["GroupRenameSeenByUsers"] = testGroupRenameSeen
}

// testGroupRenameSeen: the names of a user's groups are remembered for a
// moment between lookups, yet a group renamed through SCIM shows its new
// name in the next read of its members.
func testGroupRenameSeen(t *testing.T, e *env) {
	uid := e.want(e.do("POST", "/Users", entraUser("rena@acme.example", "Rena", "R")), 201)["id"].(string)
	gid := e.want(e.do("POST", "/Groups", obj{"displayName": "Ops", "members": []any{obj{"value": uid}}}), 201)["id"].(string)
	display := func() string {
		u := e.want(e.do("GET", "/Users/"+uid, nil), 200)
		list, _ := u["groups"].([]any)
		if len(list) != 1 {
			t.Fatalf("groups of the user: %v", u["groups"])
		}
		return list[0].(map[string]any)["display"].(string)
	}
	if got := display(); got != "Ops" {
		t.Fatalf("display %q, want Ops", got)
	}
	e.want(e.do("PATCH", "/Groups/"+gid, patch(obj{"op": "replace", "path": "displayName", "value": "Operations"})), 204)
	if got := display(); got != "Operations" {
		t.Fatalf("display after the rename %q, want Operations", got)
	}
}

// memberIDs are the ids of a group document's members.
func memberIDs(doc map[string]any) []string {
	var out []string
	list, _ := doc["members"].([]any)
	for _, m := range list {
		out = append(out, m.(map[string]any)["value"].(string))
	}
	slices.Sort(out)
	return out
}

func sorted(ids ...string) []string {
	s := slices.Clone(ids)
	slices.Sort(s)
	return s
}

func testGroups(t *testing.T, e *env) {
	u1 := e.want(e.do("POST", "/Users", entraUser("uma@acme.example", "Uma", "U")), 201)["id"].(string)
	u2 := e.want(e.do("POST", "/Users", entraUser("vic@acme.example", "Vic", "V")), 201)["id"].(string)
	u3 := e.want(e.do("POST", "/Users", entraUser("wes@acme.example", "Wes", "W")), 201)["id"].(string)
	// Entra looks the group up by name first, without its members.
	l := e.want(e.do("GET", `/Groups?filter=displayName eq "Engineering"&excludedAttributes=members`, nil), 200)
	if l["totalResults"] != 0.0 {
		t.Fatalf("lookup: %v", l)
	}
	r := e.do("POST", "/Groups", obj{"schemas": []any{scim.URNGroup}, "displayName": "Engineering", "externalId": "g-1",
		"members": []any{obj{"value": u1, "display": "Uma"}, obj{"value": u2}}})
	g := e.want(r, 201)
	gid := g["id"].(string)
	if g["displayName"] != "Engineering" || g["externalId"] != "g-1" || !slices.Equal(memberIDs(g), sorted(u1, u2)) || r.Header.Get("Location") == "" {
		t.Fatalf("created: %v", g)
	}
	attr, err := e.st.Read().Attribute(e.ctx, e.tn.ID, usher.KindGroup, gid)
	if err != nil || attr.ManagedBy != e.tok.ID || attr.Name != "Engineering" {
		t.Fatalf("the usher group: %+v %v", attr, err)
	}
	if a := e.account(u1); !slices.Contains(a.GroupIDs, gid) {
		t.Fatalf("member's groups: %v", a.GroupIDs)
	}
	u := e.want(e.do("GET", "/Users/"+u1, nil), 200)
	if get(u, "groups.0.value") != gid || get(u, "groups.0.display") != "Engineering" {
		t.Fatalf("the user's groups: %v", u["groups"])
	}
	l = e.want(e.do("GET", `/Groups?filter=displayName eq "engineering"&excludedAttributes=members`, nil), 200)
	if l["totalResults"] != 1.0 || get(l, "Resources.0.members") != nil || get(l, "Resources.0.id") != gid {
		t.Fatalf("lookup by name: %v", l)
	}
	// Entra: add and remove by value filter; Okta: replace the members.
	e.want(e.do("PATCH", "/Groups/"+gid, patch(obj{"op": "Add", "path": "members", "value": []any{obj{"value": u3, "display": "Wes"}}})), 204)
	e.want(e.do("PATCH", "/Groups/"+gid, patch(obj{"op": "Remove", "path": `members[value eq "` + u1 + `"]`})), 204)
	g = e.want(e.do("GET", "/Groups/"+gid, nil), 200)
	if !slices.Equal(memberIDs(g), sorted(u2, u3)) || !strings.Contains(string(e.do("GET", "/Groups/"+gid, nil).Body), `"display":"Wes"`) {
		t.Fatalf("after add and remove: %v", g)
	}
	e.want(e.do("PATCH", "/Groups/"+gid, patch(obj{"op": "remove", "path": "members", "value": []any{obj{"value": u2}}})), 204)
	e.want(e.do("PATCH", "/Groups/"+gid, patch(obj{"op": "replace", "path": "members", "value": []any{obj{"value": u1}, obj{"value": u2}}})), 204)
	g = e.want(e.do("GET", "/Groups/"+gid, nil), 200)
	if !slices.Equal(memberIDs(g), sorted(u1, u2)) {
		t.Fatalf("after replace: %v", memberIDs(g))
	}
	if a := e.account(u3); slices.Contains(a.GroupIDs, gid) {
		t.Fatalf("a replaced member keeps the group: %v", a.GroupIDs)
	}
	// Renames keep names unique; a PUT sets the name and the members.
	other := e.want(e.do("POST", "/Groups", obj{"displayName": "Sales"}), 201)["id"].(string)
	e.wantError(e.do("PATCH", "/Groups/"+other, patch(obj{"op": "replace", "path": "displayName", "value": "ENGINEERING"})), 409, scim.TypeUniqueness, "displayName", "Engineering")
	e.wantError(e.do("POST", "/Groups", obj{"displayName": "engineering"}), 409, scim.TypeUniqueness, "displayName")
	e.want(e.do("PATCH", "/Groups/"+other, patch(obj{"op": "replace", "value": obj{"displayName": "Sales EMEA"}})), 204)
	put := e.want(e.do("PUT", "/Groups/"+gid, obj{"schemas": []any{scim.URNGroup}, "displayName": "Platform", "members": []any{obj{"value": u3}}}), 200)
	if put["displayName"] != "Platform" || !slices.Equal(memberIDs(put), []string{u3}) {
		t.Fatalf("PUT: %v", put)
	}
	// Unknown members (another tenant's, a deleted user, garbage) are
	// skipped, so one stale id does not stop a sync.
	e.want(e.do("DELETE", "/Users/"+u1, nil), 204)
	e.want(e.do("PATCH", "/Groups/"+gid, patch(obj{"op": "add", "path": "members", "value": []any{obj{"value": u1}, obj{"value": "string id 1"}, obj{"value": u2}}})), 204)
	g = e.want(e.do("GET", "/Groups/"+gid, nil), 200)
	if !slices.Equal(memberIDs(g), sorted(u2, u3)) {
		t.Fatalf("with unknown members: %v", memberIDs(g))
	}
	// Paging and listing.
	l = e.want(e.do("GET", "/Groups?count=1&startIndex=2", nil), 200)
	if l["totalResults"] != 2.0 || l["itemsPerPage"] != 1.0 || get(l, "Resources.0.id") != other {
		t.Fatalf("groups page: %v", l)
	}
	l = e.want(e.do("GET", `/Groups?filter=members[value eq "`+u3+`"]`, nil), 200)
	if l["totalResults"] != 1.0 || get(l, "Resources.0.id") != gid {
		t.Fatalf("groups by member: %v", l)
	}
	// DELETE deactivates the group; its memberships given by the source end.
	e.want(e.do("DELETE", "/Groups/"+gid, nil), 204)
	e.wantError(e.do("GET", "/Groups/"+gid, nil), 404, "", gid)
	if a := e.account(u3); slices.Contains(a.GroupIDs, gid) {
		t.Fatalf("a deleted group's member keeps it: %v", a.GroupIDs)
	}
	if l := e.want(e.do("GET", "/Groups", nil), 200); l["totalResults"] != 1.0 {
		t.Fatalf("after delete: %v", l)
	}
	// Another tenant's group is not found.
	e.wantError(e.do("GET", "/Groups/"+e.catalog(usher.KindRole, "Viewer").ID, nil), 404, "", "no group")
}

// Memberships added by hand are never removed by the source.
func testGroupsHandMembers(t *testing.T, e *env) {
	u1 := e.want(e.do("POST", "/Users", entraUser("xia@acme.example", "Xia", "X")), 201)["id"].(string)
	u2 := e.want(e.do("POST", "/Users", entraUser("yan@acme.example", "Yan", "Y")), 201)["id"].(string)
	gid := e.want(e.do("POST", "/Groups", obj{"displayName": "Ops", "members": []any{obj{"value": u1}}}), 201)["id"].(string)
	admin := usher.Actor{Kind: usher.ActorToken, ID: "admin", Role: usher.AdminTenant}
	groups := []string{gid}
	if _, err := e.svc.UpdateAccount(e.ctx, admin, e.tn, u2, provision.AccountUpdate{GroupIDs: &groups}); err != nil {
		t.Fatal(err)
	}
	g := e.want(e.do("GET", "/Groups/"+gid, nil), 200)
	if !slices.Equal(memberIDs(g), sorted(u1, u2)) {
		t.Fatalf("members: %v", memberIDs(g))
	}
	e.want(e.do("PATCH", "/Groups/"+gid, patch(obj{"op": "remove", "path": `members[value eq "` + u2 + `"]`})), 204)
	e.want(e.do("PATCH", "/Groups/"+gid, patch(obj{"op": "remove", "path": "members"})), 204)
	e.want(e.do("PUT", "/Groups/"+gid, obj{"displayName": "Ops", "members": []any{}}), 200)
	if a := e.account(u2); !slices.Contains(a.GroupIDs, gid) {
		t.Fatal("the source removed a membership given by hand")
	}
	if a := e.account(u1); slices.Contains(a.GroupIDs, gid) {
		t.Fatal("the source could not remove its own membership")
	}
	// Renaming a source's group by hand is refused, saying why.
	name := "Operations"
	_, err := catalog.New(e.st, e.svc).UpdateAttribute(e.ctx, admin, e.tn, usher.KindGroup, gid, catalog.AttributeInput{Name: &name})
	if err == nil || !strings.Contains(err.Error(), `managed by the provisioning source "Entra ID"`) || usher.ErrorCode(err) != usher.CodeConflict {
		t.Fatalf("renaming by hand: %v", err)
	}
}

func testManagedBy(t *testing.T, e *env) {
	id := e.want(e.do("POST", "/Users", entraUser("zoe@acme.example", "Zoe", "Z")), 201)["id"].(string)
	a := e.account(id)
	admin := usher.Actor{Kind: usher.ActorToken, ID: "admin", Role: usher.AdminTenant}
	name := "Zoë"
	_, err := e.svc.UpdatePerson(e.ctx, admin, e.tn, a.PersonID, provision.PersonUpdate{FirstName: &name})
	if err == nil || !strings.Contains(err.Error(), "first_name") || !strings.Contains(err.Error(), `managed by the provisioning source "Entra ID"`) ||
		!strings.Contains(err.Error(), "next sync would undo") || usher.ErrorCode(err) != usher.CodeConflict {
		t.Fatalf("a hand change of a source's field: %v", err)
	}
	email := "zoe@elsewhere.example"
	if _, err := e.svc.UpdateAccount(e.ctx, admin, e.tn, id, provision.AccountUpdate{Email: &email}); err == nil || !strings.Contains(err.Error(), "email") {
		t.Fatalf("a hand change of the sign-in email: %v", err)
	}
	// What the source does not set stays the administrator's.
	role := e.catalog(usher.KindRole, "Editor")
	if _, err := e.svc.UpdateAccount(e.ctx, admin, e.tn, id, provision.AccountUpdate{RoleID: &role.ID}); err != nil {
		t.Fatalf("a hand change of the role: %v", err)
	}
	suspended := usher.StateSuspended
	if _, err := e.svc.UpdateAccount(e.ctx, admin, e.tn, id, provision.AccountUpdate{State: &suspended}); err != nil {
		t.Fatalf("an administrator suspends a source's user: %v", err)
	}
	m := e.want(e.do("GET", "/Users/"+id, nil), 200)
	if getURN(m, scim.URNUsher+".role") != "Editor" || m["active"] != false {
		t.Fatalf("the source reads the hand changes: %v", m)
	}
	// The API shows the source: managed_by on the person and the account.
	if p := e.person(a.PersonID); p.ManagedBy != e.tok.ID {
		t.Fatalf("person managed by %q", p.ManagedBy)
	}
	// Once the source's token is revoked, it manages nothing any more.
	if err := e.tokens.RevokeToken(e.ctx, operator, e.tn, e.tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.UpdatePerson(e.ctx, admin, e.tn, a.PersonID, provision.PersonUpdate{FirstName: &name}); err != nil {
		t.Fatalf("after the source's token was revoked: %v", err)
	}
	// A second source manages what it creates.
	tok2, secret2 := e.scimToken(e.tn, "Okta")
	e.token = secret2
	id2 := e.want(e.do("POST", "/Users", entraUser("cy@acme.example", "Cy", "C")), 201)["id"].(string)
	if a := e.account(id2); a.ManagedBy != tok2.ID {
		t.Fatalf("managed by %q", a.ManagedBy)
	}
}

// A tenant with a corporate SSO connection: a source's users sign in with
// it, get no message, and their first SSO sign-in activates them.
func testSSOTenant(t *testing.T, e *env) {
	if _, err := e.svc.SaveConnection(e.ctx, operator, e.tn, "", provision.ConnectionInput{Connection: usher.Connection{Name: "Acme Entra",
		Protocol: "oidc", Issuer: "https://login.example/acme", Domains: []string{"acme.example"}}}); err != nil {
		t.Fatal(err)
	}
	id := e.want(e.do("POST", "/Users", entraUser("ida@acme.example", "Ida", "I")), 201)["id"].(string)
	a := e.account(id)
	msgs, _, _ := e.st.Read().Messages(e.ctx, e.tn.ID, store.MessageFilter{AccountID: id}, store.ListOptions{})
	if a.AuthSystem != usher.AuthConnection || a.State != usher.StateInvited || len(msgs) != 0 {
		t.Fatalf("SSO account %+v with %d messages", a, len(msgs))
	}
	// The tenant's only connection takes its employees whatever their domain.
	id = e.want(e.do("POST", "/Users", entraUser("guest@partner.example", "Gus", "G")), 201)["id"].(string)
	msgs, _, _ = e.st.Read().Messages(e.ctx, e.tn.ID, store.MessageFilter{AccountID: id}, store.ListOptions{})
	if a := e.account(id); a.AuthSystem != usher.AuthConnection || len(msgs) != 0 {
		t.Fatalf("the tenant's only connection takes its employees: %+v %d", a, len(msgs))
	}
}

func init() { cases["Adoption"] = testAdoption }

// A user made by hand is found by the source's lookup and becomes the
// source's with its first change.
func testAdoption(t *testing.T, e *env) {
	admin := usher.Actor{Kind: usher.ActorToken, ID: "admin", Role: usher.AdminUser}
	c, err := e.svc.CreateAccount(e.ctx, admin, e.tn, provision.AccountInput{Route: provision.RouteNewUser,
		Person: &provision.PersonInput{FirstName: "Hand", LastName: "Made", Email: "hand@acme.example"}})
	if err != nil {
		t.Fatal(err)
	}
	l := e.want(e.do("GET", `/Users?filter=userName eq "hand@acme.example"`, nil), 200)
	if l["totalResults"] != 1.0 || get(l, "Resources.0.id") != c.Account.ID || getURN(get(l, "Resources.0").(map[string]any), scim.URNUsher+".managedBy") != nil {
		t.Fatalf("a hand-made user: %v", l)
	}
	e.want(e.do("PATCH", "/Users/"+c.Account.ID, patch(obj{"op": "replace", "path": "externalId", "value": "e-hand"})), 204)
	if a, p := e.account(c.Account.ID), e.person(c.Person.ID); a.ManagedBy != e.tok.ID || p.ManagedBy != e.tok.ID || p.ExternalID != "e-hand" {
		t.Fatalf("adopted: %+v %+v", a, p)
	}
}

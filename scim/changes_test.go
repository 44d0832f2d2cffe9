package scim_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/scim"
	"github.com/usherhq/usher/secret"
	"github.com/usherhq/usher/store"
)

func init() {
	cases["EntraPatch"] = testEntraPatch
	cases["EntraPatchWithPaths"] = testEntraPatchWithPaths
	cases["OktaPut"] = testOktaPut
	cases["Deprovisioning"] = testDeprovisioning
	cases["PatchErrors"] = testPatchErrors
	cases["ETags"] = testETags
}

func patch(ops ...obj) obj {
	list := make([]any, len(ops))
	for i, o := range ops {
		list[i] = o
	}
	return obj{"schemas": []any{scim.URNPatch}, "Operations": list}
}

// Entra ID without the aadOptscim062020 flag (its default for apps added
// before it): one operation without a path, a value object with dotted and
// URN keys, booleans as the strings "True" and "False", ops capitalised.
func testEntraPatch(t *testing.T, e *env) {
	e.catalog(usher.KindDepartment, "Research")
	id := e.want(e.do("POST", "/Users", entraUser("kim@acme.example", "Kim", "K")), 201)["id"].(string)
	r := e.do("PATCH", "/Users/"+id, patch(obj{"op": "Replace", "value": obj{
		"name.givenName":                       "Kimberly",
		"name.familyName":                      "Kline",
		scim.URNEnterprise + ":employeeNumber": "42",
		scim.URNEnterprise + ":department":     "Research",
		"active":                               "False",
		"displayName":                          "Kimberly Kline",
	}}))
	e.want(r, 204)
	if r.Header.Get("ETag") == "" {
		t.Fatal("a PATCH answers the new ETag")
	}
	m := e.want(e.do("GET", "/Users/"+id, nil), 200)
	for path, want := range map[string]any{"name.givenName": "Kimberly", "name.familyName": "Kline", "displayName": "Kimberly Kline",
		"active": false, scim.URNEnterprise + ".employeeNumber": "42", scim.URNEnterprise + ".department": "Research",
		scim.URNUsher + ".state": "suspended"} {
		if got := getURN(m, path); got != want {
			t.Errorf("%s: got %v, want %v", path, got, want)
		}
	}
	a := e.account(id)
	if p := e.person(a.PersonID); p.FirstName != "Kimberly" || a.State != usher.StateSuspended {
		t.Fatalf("person %+v account %+v", p, a)
	}
	// Disabled, the user is still listed and found.
	l := e.want(e.do("GET", `/Users?filter=userName eq "kim@acme.example"`, nil), 200)
	if l["totalResults"] != 1.0 || get(l, "Resources.0.active") != false {
		t.Fatalf("lookup of a disabled user: %v", l)
	}
	// "True" resumes: never activated, it is invited again.
	e.want(e.do("PATCH", "/Users/"+id, patch(obj{"op": "Replace", "value": obj{"active": "True"}})), 204)
	if a := e.account(id); a.State != usher.StateInvited || a.Invitation != usher.InvitationPending {
		t.Fatalf("resumed: %+v", a)
	}
	events, _, _ := e.st.Read().AuditEvents(e.ctx, e.tn.ID, store.AuditFilter{TargetID: id, Action: "account.suspended"}, store.ListOptions{})
	if len(events) != 1 || events[0].ActorKind != usher.ActorSCIM {
		t.Fatalf("audit of the suspension: %+v", events)
	}
}

// Entra ID with aadOptscim062020 (the default for new apps): an operation
// per attribute with its path, value filters, the manager's id alone,
// real booleans; and a userName change.
func testEntraPatchWithPaths(t *testing.T, e *env) {
	id := e.want(e.do("POST", "/Users", entraUser("lou@acme.example", "Lou", "L")), 201)["id"].(string)
	e.want(e.do("PATCH", "/Users/"+id, patch(
		obj{"op": "replace", "path": "userName", "value": "louise@acme.example"},
		obj{"op": "replace", "path": `emails[type eq "work"].value`, "value": "louise@acme.example"},
		obj{"op": "add", "path": `phoneNumbers[type eq "mobile"].value`, "value": "+44 7700 900123"},
		obj{"op": "add", "path": `addresses[type eq "work"].locality`, "value": "Leeds"},
		obj{"op": "Add", "path": scim.URNEnterprise + ":manager", "value": "boss-1"},
		obj{"op": "replace", "path": "name.givenName", "value": "Louise"},
		obj{"op": "replace", "path": "active", "value": false},
	)), 204)
	m := e.want(e.do("GET", "/Users/"+id, nil), 200)
	for path, want := range map[string]any{"userName": "louise@acme.example", "emails.0.value": "louise@acme.example",
		"phoneNumbers.0.value": "+44 7700 900123", "phoneNumbers.0.type": "mobile", "addresses.0.locality": "Leeds", "addresses.0.type": "work",
		scim.URNEnterprise + ".manager.value": "boss-1", "name.givenName": "Louise", "active": false} {
		if got := getURN(m, path); got != want {
			t.Errorf("%s: got %v, want %v", path, got, want)
		}
	}
	a := e.account(id)
	if a.Email != "louise@acme.example" || a.Phone != "+447700900123" {
		t.Fatalf("account %+v", a)
	}
	// The old userName signs in no more; the new one finds the user.
	if _, err := e.st.Read().AccountByLogin(e.ctx, e.tn.ID, "lou@acme.example"); !errors.Is(err, usher.ErrNotFound) {
		t.Fatalf("old userName: %v", err)
	}
	l := e.want(e.do("GET", `/Users?filter=userName eq "LOUISE@acme.example"`, nil), 200)
	if l["totalResults"] != 1.0 {
		t.Fatalf("lookup by the new userName: %v", l)
	}
	// Removing the manager, and an email by filter.
	e.want(e.do("PATCH", "/Users/"+id, patch(
		obj{"op": "remove", "path": scim.URNEnterprise + ":manager"},
		obj{"op": "remove", "path": `addresses[type eq "work"]`},
	)), 204)
	m = e.want(e.do("GET", "/Users/"+id, nil), 200)
	if getURN(m, scim.URNEnterprise+".manager") != nil || m["addresses"] != nil {
		t.Fatalf("removed: %v", m)
	}
}

// Okta PUTs the whole user, also to deactivate (it never DELETEs).
func testOktaPut(t *testing.T, e *env) {
	u := obj{"schemas": []any{scim.URNUser}, "userName": "mo@acme.example", "active": true, "externalId": "00u1",
		"name": obj{"givenName": "Mo", "familyName": "M"}, "emails": []any{obj{"primary": true, "type": "work", "value": "mo@acme.example"}},
		"locale": "en-US", "groups": []any{}}
	m := e.want(e.do("POST", "/Users", u), 201)
	id := m["id"].(string)
	a := e.account(id)
	secretLink := activationSecret(t, e, id)
	if _, err := e.svc.ActivateWithLink(e.ctx, e.tn, secretLink, "correct horse battery staple", "", ""); err != nil {
		t.Fatal(err)
	}
	m["active"] = false
	m["name"] = obj{"givenName": "Maurice", "familyName": "M"}
	r := e.do("PUT", "/Users/"+id, m)
	got := e.want(r, 200)
	if got["active"] != false || get(got, "name.givenName") != "Maurice" || r.Header.Get("ETag") == "" {
		t.Fatalf("PUT: %v", got)
	}
	if a = e.account(id); a.State != usher.StateSuspended {
		t.Fatalf("deactivated by PUT: %+v", a)
	}
	got["active"] = true
	e.want(e.do("PUT", "/Users/"+id, got), 200)
	if a = e.account(id); a.State != usher.StateActive {
		t.Fatalf("reactivated by PUT: %+v", a)
	}
	// A PUT leaves out what the tenant defaulted (department, plan) as it was,
	// and drops what the source no longer sends.
	delete(got, "locale")
	put := e.want(e.do("PUT", "/Users/"+id, got), 200)
	if put["locale"] != nil || getURN(put, scim.URNUsher+".plan") != "std" {
		t.Fatalf("PUT without locale: %v", put)
	}
	delete(got, "userName")
	e.wantError(e.do("PUT", "/Users/"+id, got), 400, scim.TypeInvalidValue, "userName: is required")
}

// activationSecret is the secret of the newest activation link sent to
// the account.
func activationSecret(t *testing.T, e *env, accountID string) string {
	t.Helper()
	msgs, _, _ := e.st.Read().Messages(e.ctx, e.tn.ID, store.MessageFilter{AccountID: accountID}, store.ListOptions{Newest: true})
	for _, m := range msgs {
		var d map[string]any
		_ = json.Unmarshal([]byte(m.Data), &d)
		for _, v := range d {
			if s, ok := v.(string); ok {
				if _, sec, ok := strings.Cut(s, "/activate#"); ok {
					return sec
				}
			}
		}
	}
	t.Fatalf("no activation link sent to %s: %+v", accountID, msgs)
	return ""
}

func testDeprovisioning(t *testing.T, e *env) {
	id := e.want(e.do("POST", "/Users", entraUser("nia@acme.example", "Nia", "N")), 201)["id"].(string)
	if _, err := e.svc.ActivateWithLink(e.ctx, e.tn, activationSecret(t, e, id), "correct horse battery staple", "", ""); err != nil {
		t.Fatal(err)
	}
	a := e.account(id)
	cookie, hash := secret.New()
	_ = cookie
	if err := e.st.Write(e.ctx, func(tx *store.Tx) error {
		return tx.InsertSession(e.ctx, &usher.Session{IdentityID: a.IdentityID, TenantID: e.tn.ID, Method: "password"}, hash)
	}); err != nil {
		t.Fatal(err)
	}
	// active false suspends and ends the sessions at once.
	e.want(e.do("PATCH", "/Users/"+id, patch(obj{"op": "replace", "path": "active", "value": false})), 204)
	if _, err := e.st.Read().SessionByHash(e.ctx, hash); err == nil {
		t.Fatal("a session outlived the suspension")
	}
	used := e.seatsUsed()
	// DELETE deactivates, frees the seat and keeps the history.
	e.want(e.do("DELETE", "/Users/"+id, nil), 204)
	if a = e.account(id); a.State != usher.StateDeactivated || e.seatsUsed() != used-1 {
		t.Fatalf("deleted: %+v, seats %d then %d", a, used, e.seatsUsed())
	}
	e.wantError(e.do("GET", "/Users/"+id, nil), 404, "", id)
	e.wantError(e.do("DELETE", "/Users/"+id, nil), 404, "", id)
	if l := e.want(e.do("GET", "/Users", nil), 200); l["totalResults"] != 0.0 {
		t.Fatalf("a deleted user is listed: %v", l)
	}
	if l := e.want(e.do("GET", `/Users?filter=userName eq "nia@acme.example"`, nil), 200); l["totalResults"] != 0.0 {
		t.Fatalf("a deleted user is found: %v", l)
	}
	// Provisioned again later: the same account, reactivated.
	again := entraUser("nia@acme.example", "Nia", "Newman")
	m := e.want(e.do("POST", "/Users", again), 201)
	if m["id"] != id || get(m, "name.familyName") != "Newman" || m["active"] != true {
		t.Fatalf("provisioned again: %v (was %s)", m, id)
	}
	if a = e.account(id); a.State != usher.StateActive || e.seatsUsed() != used {
		t.Fatalf("reactivated: %+v, seats %d", a, e.seatsUsed())
	}
	if n, _ := e.st.Read().CountAccounts(e.ctx, e.tn.ID); n != 1 {
		t.Fatalf("%d accounts after provisioning again", n)
	}
	events, _, _ := e.st.Read().AuditEvents(e.ctx, e.tn.ID, store.AuditFilter{TargetID: id}, store.ListOptions{})
	var actions []string
	for _, ev := range events {
		actions = append(actions, ev.Action)
	}
	if !strings.Contains(strings.Join(actions, " "), "account.suspended account.deactivated") || !strings.Contains(strings.Join(actions, " "), "account.active") {
		t.Fatalf("history: %v", actions)
	}
	// Disabled from the start: created suspended, and no invitation goes out.
	off := entraUser("omar@acme.example", "Omar", "O")
	off["active"] = "False"
	oid := e.want(e.do("POST", "/Users", off), 201)["id"].(string)
	msgs, _, _ := e.st.Read().Messages(e.ctx, e.tn.ID, store.MessageFilter{AccountID: oid}, store.ListOptions{})
	if a := e.account(oid); a.State != usher.StateSuspended || len(msgs) != 0 {
		t.Fatalf("created disabled: %+v, %d messages", a, len(msgs))
	}
}

func testPatchErrors(t *testing.T, e *env) {
	id := e.want(e.do("POST", "/Users", entraUser("pat@acme.example", "Pat", "P")), 201)["id"].(string)
	for _, c := range []struct {
		body     any
		status   int
		scimType string
		words    []string
	}{
		{patch(obj{"op": "replace", "path": "id", "value": "x"}), 400, scim.TypeMutability, []string{"id is read-only"}},
		{patch(obj{"op": "add", "path": "groups", "value": []any{obj{"value": "g"}}}), 400, scim.TypeMutability, []string{"groups is read-only"}},
		{patch(obj{"op": "replace", "path": scim.URNUsher + ":state", "value": "active"}), 400, scim.TypeMutability, []string{"state is read-only"}},
		{patch(obj{"op": "move", "path": "userName", "value": "x"}), 400, scim.TypeInvalidSyntax, []string{"Operations[0].op"}},
		{patch(obj{"op": "remove"}), 400, scim.TypeNoTarget, []string{"remove needs a path"}},
		{patch(obj{"op": "replace", "path": `emails[type eq "home" or primary eq false].value`, "value": "x@y.z"}), 400, scim.TypeNoTarget, []string{"emails"}},
		{patch(obj{"op": "replace", "path": `emails[type eq "work"`, "value": "x"}), 400, scim.TypeInvalidPath, []string{"expected ]"}},
		{patch(obj{"op": "replace", "path": "name", "value": "Pat"}), 400, scim.TypeInvalidValue, []string{"name: must be an object"}},
		{patch(obj{"op": "replace", "path": "active", "value": "perhaps"}), 400, scim.TypeInvalidValue, []string{"active: must be true or false"}},
		{obj{"schemas": []any{scim.URNPatch}}, 400, scim.TypeInvalidSyntax, []string{"Operations"}},
		{obj{"schemas": []any{scim.URNUser}, "Operations": []any{}}, 400, scim.TypeInvalidSyntax, []string{"PatchOp"}},
		{patch(obj{"op": "replace", "path": "userName", "value": "has space"}), 400, scim.TypeInvalidValue, []string{"userName: may hold only"}},
	} {
		e.wantError(e.do("PATCH", "/Users/"+id, c.body), c.status, c.scimType, c.words...)
	}
	many := make([]obj, 1001)
	for i := range many {
		many[i] = obj{"op": "replace", "path": "displayName", "value": "x"}
	}
	e.wantError(e.do("PATCH", "/Users/"+id, patch(many...)), 413, scim.TypeTooMany, "at most 1000")
	// Nothing of the refused requests changed the user.
	m := e.want(e.do("GET", "/Users/"+id, nil), 200)
	if m["userName"] != "pat@acme.example" || m["displayName"] != "Pat P" {
		t.Fatalf("after refusals: %v", m)
	}
	// Another user's identifier is a uniqueness conflict.
	e.want(e.do("POST", "/Users", entraUser("quinn@acme.example", "Quinn", "Q")), 201)
	e.wantError(e.do("PATCH", "/Users/"+id, patch(obj{"op": "replace", "path": "userName", "value": "quinn@acme.example"})), 409, scim.TypeUniqueness, "userName", "quinn@acme.example")
}

func testETags(t *testing.T, e *env) {
	r := e.do("POST", "/Users", entraUser("rae@acme.example", "Rae", "R"))
	m := e.want(r, 201)
	id, v1 := m["id"].(string), r.Header.Get("ETag")
	if !strings.HasPrefix(v1, `W/"`) {
		t.Fatalf("ETag %q", v1)
	}
	if r := e.do("GET", "/Users/"+id, nil, "If-None-Match", v1); r.Status != 304 {
		t.Fatalf("If-None-Match of the current version: %d", r.Status)
	}
	r = e.do("PATCH", "/Users/"+id, patch(obj{"op": "replace", "path": "displayName", "value": "Rae R."}), "If-Match", v1)
	e.want(r, 204)
	v2 := r.Header.Get("ETag")
	if v2 == v1 || v2 == "" {
		t.Fatalf("versions %q then %q", v1, v2)
	}
	e.wantError(e.do("PATCH", "/Users/"+id, patch(obj{"op": "replace", "path": "displayName", "value": "stale"}), "If-Match", v1), 412, "", "changed")
	m["displayName"] = "stale"
	e.wantError(e.do("PUT", "/Users/"+id, m, "If-Match", v1), 412, "", "changed")
	e.wantError(e.do("DELETE", "/Users/"+id, nil, "If-Match", v1), 412, "", "changed")
	if got := e.want(e.do("GET", "/Users/"+id, nil), 200); got["displayName"] != "Rae R." {
		t.Fatalf("a stale write got through: %v", got)
	}
	e.want(e.do("DELETE", "/Users/"+id, nil, "If-Match", v2), 204)
}

var _ = provision.KindInvitation

func init() { cases["OktaShapes"] = testOktaShapes }

// What Okta sends: a user with a password (never taken) and empty groups,
// deactivation by a PATCH of {"active":false}, a group renamed with its id
// in the value, members added and removed one by one.
func testOktaShapes(t *testing.T, e *env) {
	u := obj{"schemas": []any{scim.URNUser}, "userName": "okta.user@acme.example", "active": true, "password": "tops3cret!",
		"name": obj{"givenName": "Okta", "familyName": "User"}, "emails": []any{obj{"primary": true, "value": "okta.user@acme.example", "type": "work"}},
		"displayName": "Okta User", "locale": "en-US", "externalId": "00u5", "groups": []any{}}
	r := e.do("POST", "/Users", u)
	m := e.want(r, 201)
	if strings.Contains(string(r.Body), "tops3cret") || m["password"] != nil {
		t.Fatalf("the password came back: %s", r.Body)
	}
	id := m["id"].(string)
	if l := e.want(e.do("GET", `/Users?filter=userName eq "okta.user@acme.example"&startIndex=1&count=100`, nil), 200); l["totalResults"] != 1.0 {
		t.Fatalf("Okta's lookup: %v", l)
	}
	e.want(e.do("PATCH", "/Users/"+id, patch(obj{"op": "replace", "value": obj{"active": false}})), 204)
	if a := e.account(id); a.State != usher.StateSuspended {
		t.Fatalf("deactivated by Okta: %+v", a)
	}
	g := e.want(e.do("POST", "/Groups", obj{"schemas": []any{scim.URNGroup}, "displayName": "Okta Group", "members": []any{}}), 201)
	gid := g["id"].(string)
	e.want(e.do("PATCH", "/Groups/"+gid, patch(obj{"op": "replace", "value": obj{"id": gid, "displayName": "Okta Group Renamed"}})), 204)
	e.want(e.do("PATCH", "/Groups/"+gid, patch(obj{"op": "add", "path": "members", "value": []any{obj{"value": id, "display": "okta.user@acme.example"}}})), 204)
	g = e.want(e.do("GET", "/Groups/"+gid, nil), 200)
	if g["displayName"] != "Okta Group Renamed" || get(g, "members.0.value") != id || get(g, "members.0.display") != "okta.user@acme.example" {
		t.Fatalf("Okta's group: %v", g)
	}
	e.wantError(e.do("PATCH", "/Groups/"+gid, patch(obj{"op": "replace", "value": obj{"id": "another", "displayName": "x"}})), 400, scim.TypeMutability, "id is read-only")
	e.want(e.do("PATCH", "/Groups/"+gid, patch(obj{"op": "remove", "path": `members[value eq "` + id + `"]`})), 204)
	if g = e.want(e.do("GET", "/Groups/"+gid, nil), 200); g["members"] != nil {
		t.Fatalf("after removal: %v", g)
	}
}

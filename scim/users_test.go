package scim_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/apitoken"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/scim"
	"github.com/usherhq/usher/store"
)

func init() {
	cases["Discovery"] = testDiscovery
	cases["Tokens"] = testTokens
	cases["CreateEntra"] = testCreateEntra
	cases["RequiredAndUnique"] = testRequiredAndUnique
	cases["Seats"] = testSeats
	cases["CatalogueNames"] = testCatalogueNames
}

func testDiscovery(t *testing.T, e *env) {
	for _, path := range []string{"/ServiceProviderConfig", "/serviceConfiguration", "/serviceproviderconfig"} {
		m := e.want(e.do("GET", path, nil), 200)
		if get(m, "patch.supported") != true || get(m, "filter.supported") != true || get(m, "etag.supported") != true || get(m, "bulk.supported") != false {
			t.Fatalf("%s: %v", path, m)
		}
	}
	m := e.want(e.do("GET", "/ResourceTypes", nil), 200)
	if get(m, "Resources.0.endpoint") != "/Users" || get(m, "Resources.1.endpoint") != "/Groups" || m["totalResults"] != 2.0 {
		t.Fatalf("resource types: %v", m)
	}
	r := e.do("GET", "/Schemas", nil)
	m = e.want(r, 200)
	if m["totalResults"] != 4.0 || !strings.Contains(string(r.Body), "User Account") {
		t.Fatalf("schemas: %s", r.Body)
	}
	m = e.want(e.do("GET", "/Schemas/"+scim.URNUsher, nil), 200)
	var names []string
	for _, a := range m["attributes"].([]any) {
		names = append(names, a.(map[string]any)["name"].(string))
	}
	for _, want := range []string{"jobProfile", "role", "plan", "language"} {
		if !slices.Contains(names, want) {
			t.Fatalf("the usher extension does not describe %s: %v", want, names)
		}
	}
	e.wantError(e.do("GET", "/Nothing", nil), 404, "", "/Users")
	e.wantError(e.do("DELETE", "/Users", nil), 405, "", "GET, POST")
}

func testTokens(t *testing.T, e *env) {
	path := "/t/acme/scim/v2/Users"
	e.wantError(e.doAs("", path, "GET", nil), 401, "", "Authorization")
	e.wantError(e.doAs("nonsense", path, "GET", nil), 401, "", "unknown")
	_, admin, err := e.tokens.CreateToken(e.ctx, operator, e.tn, apitoken.TokenInput{Name: "admin", Role: usher.AdminTenant})
	if err != nil {
		t.Fatal(err)
	}
	e.wantError(e.doAs(admin, path, "GET", nil), 403, "", "role scim")
	// Another tenant's SCIM token finds no tenant here, and its own tenant
	// shows none of this one's users.
	other, err := e.svc.CreateTenant(e.ctx, operator, provision.TenantInput{Slug: "globex", Name: "Globex"})
	if err != nil {
		t.Fatal(err)
	}
	_, otherToken := e.scimToken(other, "Okta")
	e.wantError(e.doAs(otherToken, path, "GET", nil), 404, "", "acme")
	id := e.want(e.do("POST", "/Users", entraUser("ada@acme.example", "Ada", "Lovelace")), 201)["id"].(string)
	e.wantError(e.doAs(otherToken, "/t/globex/scim/v2/Users/"+id, "GET", nil), 404, "", id)
	e.wantError(e.doAs(otherToken, "/t/globex/scim/v2/Users/"+id, "DELETE", nil), 404, "", id)
	e.wantError(e.doAs(otherToken, "/t/globex/scim/v2/Users/"+id, "PATCH", obj{"schemas": []any{scim.URNPatch},
		"Operations": []any{obj{"op": "replace", "path": "active", "value": false}}}), 404, "", id)
	m := e.want(e.doAs(otherToken, "/t/globex/scim/v2/Users", "GET", nil), 200)
	if m["totalResults"] != 0.0 {
		t.Fatalf("another tenant sees %v users", m["totalResults"])
	}
	// A revoked token stops at once.
	if err := e.tokens.RevokeToken(e.ctx, operator, e.tn, e.tok.ID); err != nil {
		t.Fatal(err)
	}
	e.wantError(e.doAs(e.token, path, "GET", nil), 401, "", "revoked")
}

func testCreateEntra(t *testing.T, e *env) {
	sales := e.catalog(usher.KindDepartment, "Sales")
	body := entraUser("Grace.Hopper@acme.example", "Grace", "Hopper")
	body["active"] = "True" // Entra's strings for booleans
	body[scim.URNEnterprise] = obj{"employeeNumber": "701", "Department": "sales", "manager": "boss-id"}
	body["phoneNumbers"] = []any{obj{"type": "mobile", "value": "+31 6 1234 5678"}}
	body["preferredLanguage"] = "nl-NL"
	r := e.do("POST", "/Users", body)
	m := e.want(r, 201)
	id := m["id"].(string)
	if r.Header.Get("Location") != "https://acme.example/scim/v2/Users/"+id || r.Header.Get("ETag") == "" || r.Header.Get("ETag") != get(m, "meta.version") {
		t.Fatalf("Location %q, ETag %q, meta %v", r.Header.Get("Location"), r.Header.Get("ETag"), m["meta"])
	}
	for path, want := range map[string]any{
		"userName": "Grace.Hopper@acme.example", "active": true, "name.givenName": "Grace",
		scim.URNEnterprise + ".employeeNumber": "701", scim.URNEnterprise + ".department": "Sales",
		scim.URNEnterprise + ".manager.value": "boss-id", "preferredLanguage": "nl-NL",
		scim.URNUsher + ".state": "invited", scim.URNUsher + ".plan": "std", scim.URNUsher + ".language": "nl",
		scim.URNUsher + ".managedBy": e.tok.ID, "meta.resourceType": "User",
	} {
		if got := getURN(m, path); got != want {
			t.Errorf("%s: got %v, want %v", path, got, want)
		}
	}
	a := e.account(id)
	p := e.person(a.PersonID)
	if a.Email != "grace.hopper@acme.example" || a.Phone != "+31612345678" || p.DepartmentID != sales.ID || p.ExternalID != "ext-Grace.Hopper@acme.example" ||
		a.ManagedBy != e.tok.ID || p.ManagedBy != e.tok.ID || a.Language != "nl" || a.State != usher.StateInvited {
		t.Fatalf("account %+v person %+v", a, p)
	}
	// The tenant's activation message, and the source as the actor.
	msgs, _, _ := e.st.Read().Messages(e.ctx, e.tn.ID, store.MessageFilter{AccountID: id}, store.ListOptions{})
	if len(msgs) != 1 || msgs[0].Kind != provision.KindInvitation || msgs[0].To != "grace.hopper@acme.example" {
		t.Fatalf("messages %+v", msgs)
	}
	events, _, _ := e.st.Read().AuditEvents(e.ctx, e.tn.ID, store.AuditFilter{TargetID: id}, store.ListOptions{})
	if len(events) != 1 || events[0].ActorKind != usher.ActorSCIM || events[0].ActorID != e.tok.ID || events[0].Details["route"] != provision.RouteProvisioning {
		t.Fatalf("audit %+v", events)
	}
	// GET gives the same, and the version does not change by reading.
	g := e.want(e.do("GET", "/Users/"+id, nil), 200)
	if get(g, "meta.version") != get(m, "meta.version") {
		t.Fatalf("version %v then %v", get(m, "meta.version"), get(g, "meta.version"))
	}
}

// getURN is get for paths that start with an extension's URN.
func getURN(doc map[string]any, path string) any {
	for _, urn := range []string{scim.URNEnterprise, scim.URNUsher} {
		if rest, ok := strings.CutPrefix(path, urn+"."); ok {
			ext, _ := doc[urn].(map[string]any)
			return get(ext, rest)
		}
	}
	return get(doc, path)
}

func testRequiredAndUnique(t *testing.T, e *env) {
	body := entraUser("ada@acme.example", "Ada", "Lovelace")
	delete(body, "name")
	e.wantError(e.do("POST", "/Users", body), 400, scim.TypeInvalidValue, "name.givenName: is required", "name.familyName: is required")
	delete(body, "userName")
	e.wantError(e.do("POST", "/Users", body), 400, scim.TypeInvalidValue, "userName: is required")
	e.want(e.do("POST", "/Users", entraUser("ada@acme.example", "Ada", "Lovelace")), 201)
	e.wantError(e.do("POST", "/Users", entraUser("ADA@acme.example", "Ada", "Again")), 409, scim.TypeUniqueness, "userName")
	// A frontline tenant requires a job profile, department, role and language.
	e.setSettings(func(s *usher.TenantSettings) {
		s.RequiredFields = usher.DefaultSettings(usher.TemplateFrontline).RequiredFields
	})
	e.wantError(e.do("POST", "/Users", entraUser("bob@acme.example", "Bob", "B")), 400, scim.TypeInvalidValue,
		"title: is required in this tenant", scim.URNEnterprise+":department: is required in this tenant", scim.URNUsher+":role: is required")
	if n, _ := e.st.Read().CountAccounts(e.ctx, e.tn.ID); n != 1 {
		t.Fatalf("refused creations left %d accounts", n)
	}
	e.wantError(e.do("POST", "/Users", "{\"userName\": tre"), 400, scim.TypeInvalidSyntax, "not JSON")
	e.wantError(e.do("POST", "/Users", `["a"]`), 400, scim.TypeInvalidSyntax, "object")
	bad := entraUser("carl@acme.example", "Carl", "C")
	bad["active"] = "maybe"
	e.wantError(e.do("POST", "/Users", bad), 400, scim.TypeInvalidValue, "active: must be true or false")
	bad = entraUser("carl@acme.example", "Carl", "C")
	bad["phoneNumbers"] = []any{obj{"type": "mobile", "value": "06 1234"}}
	e.wantError(e.do("POST", "/Users", bad), 400, scim.TypeInvalidValue, `phoneNumbers[type eq "mobile"].value`)
}

func testSeats(t *testing.T, e *env) {
	small := e.newPlan(e.tn, "small", 1)
	e.setSettings(func(s *usher.TenantSettings) { s.DefaultPlanID = small.ID })
	e.want(e.do("POST", "/Users", entraUser("one@acme.example", "One", "O")), 201)
	e.wantError(e.do("POST", "/Users", entraUser("two@acme.example", "Two", "T")), 409, "", `plan "Small" has no free seat`)
	if n, _ := e.st.Read().CountAccounts(e.ctx, e.tn.ID); n != 1 {
		t.Fatalf("a full plan left %d accounts", n)
	}
	persons, _, _ := e.st.Read().Persons(e.ctx, e.tn.ID, store.PersonFilter{}, store.ListOptions{})
	if len(persons) != 1 {
		t.Fatalf("a full plan left %d persons", len(persons))
	}
	// The usher extension names a plan by key.
	u := entraUser("three@acme.example", "Three", "T")
	u[scim.URNUsher] = obj{"plan": "std"}
	m := e.want(e.do("POST", "/Users", u), 201)
	if getURN(m, scim.URNUsher+".plan") != "std" {
		t.Fatalf("plan %v", m[scim.URNUsher])
	}
	u = entraUser("four@acme.example", "Four", "F")
	u[scim.URNUsher] = obj{"plan": "gold"}
	e.wantError(e.do("POST", "/Users", u), 400, scim.TypeInvalidValue, scim.URNUsher+":plan", "gold")
}

func testCatalogueNames(t *testing.T, e *env) {
	u := entraUser("dora@acme.example", "Dora", "D")
	u["title"] = "Welder"
	u[scim.URNEnterprise] = obj{"department": "Night shift"}
	e.wantError(e.do("POST", "/Users", u), 400, scim.TypeInvalidValue, `title: the tenant has no job profile named "Welder"`,
		scim.URNEnterprise+`:department: the tenant has no department named "Night shift"`, "settings.scim.unknown_names")
	e.setSettings(func(s *usher.TenantSettings) { s.SCIM.UnknownNames = usher.SCIMCreate })
	m := e.want(e.do("POST", "/Users", u), 201)
	if m["title"] != "Welder" || getURN(m, scim.URNEnterprise+".department") != "Night shift" {
		t.Fatalf("created names: %v", m)
	}
	deps, err := e.st.Read().AttributesByName(e.ctx, e.tn.ID, usher.KindDepartment, "night shift")
	if err != nil || len(deps) != 1 || deps[0].ManagedBy != e.tok.ID || deps[0].Key != "night-shift" {
		t.Fatalf("departments %+v %v", deps, err)
	}
	// A second user of the same names uses the same entries.
	u2 := entraUser("emil@acme.example", "Emil", "E")
	u2["title"] = "welder"
	u2[scim.URNEnterprise] = obj{"department": "NIGHT SHIFT"}
	e.want(e.do("POST", "/Users", u2), 201)
	deps, _ = e.st.Read().AttributesByName(e.ctx, e.tn.ID, usher.KindDepartment, "night shift")
	jobs, _ := e.st.Read().AttributesByName(e.ctx, e.tn.ID, usher.KindJobProfile, "welder")
	if len(deps) != 1 || len(jobs) != 1 {
		t.Fatalf("names made twice: %d departments, %d job profiles", len(deps), len(jobs))
	}
}

var _ = http.StatusOK

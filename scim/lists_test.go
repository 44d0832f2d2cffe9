package scim_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/usherhq/usher/scim"
)

func init() {
	cases["Lookups"] = testLookups
	cases["FiltersAndPaging"] = testFiltersAndPaging
}

// The lookups Entra ID and Okta send before creating a user.
func testLookups(t *testing.T, e *env) {
	u := entraUser("sam@acme.example", "Sam", "S")
	u["externalId"] = "e-123"
	u["emails"] = []any{obj{"type": "work", "primary": true, "value": "sam@acme.example"}, obj{"type": "home", "value": "sam@home.example"}}
	id := e.want(e.do("POST", "/Users", u), 201)["id"].(string)
	e.want(e.do("POST", "/Users", entraUser("tia@acme.example", "Tia", "T")), 201)
	for _, f := range []string{
		`userName eq "sam@acme.example"`, `userName eq "SAM@ACME.EXAMPLE"`, `UserName Eq "sam@acme.example"`,
		`externalId eq "e-123"`, `emails[type eq "work"].value eq "sam@acme.example"`, `emails[type eq "work" and value eq "sam@acme.example"]`,
		`emails.value eq "sam@home.example"`, `emails eq "Sam@Home.example"`, `id eq "` + id + `"`,
		`userName eq "sam@acme.example" or userName eq "nobody@acme.example"`,
	} {
		l := e.want(e.do("GET", "/Users?filter="+f, nil), 200)
		if l["totalResults"] != 1.0 || get(l, "Resources.0.id") != id || l["startIndex"] != 1.0 || l["itemsPerPage"] != 1.0 {
			t.Fatalf("%s: %v", f, l)
		}
	}
	for _, f := range []string{`userName eq "nobody@acme.example"`, `externalId eq "E-123"`, `emails[type eq "home"].value eq "sam@acme.example"`,
		`id eq "` + strings.ToUpper(id) + `"`} {
		if l := e.want(e.do("GET", "/Users?filter="+f, nil), 200); l["totalResults"] != 0.0 || len(l["Resources"].([]any)) != 0 {
			t.Fatalf("%s: %v", f, l)
		}
	}
	// Totals and pages are integers in the JSON, not strings.
	r := e.do("GET", "/Users?filter=userName eq \"sam@acme.example\"", nil)
	if !strings.Contains(string(r.Body), `"totalResults":1`) || !strings.Contains(string(r.Body), `"itemsPerPage":1`) || !strings.Contains(string(r.Body), `"startIndex":1`) {
		t.Fatalf("integers: %s", r.Body)
	}
}

func testFiltersAndPaging(t *testing.T, e *env) {
	var ids []string
	for i := range 7 {
		u := entraUser(fmt.Sprintf("user%d@acme.example", i), fmt.Sprintf("User%d", i), []string{"Odd", "Even"}[(i+1)%2])
		u["title"] = nil
		u[scim.URNEnterprise] = obj{"employeeNumber": fmt.Sprint(100 + i)}
		ids = append(ids, e.want(e.do("POST", "/Users", u), 201)["id"].(string))
	}
	count := func(f string) float64 {
		t.Helper()
		return e.want(e.do("GET", "/Users?filter="+f, nil), 200)["totalResults"].(float64)
	}
	for f, want := range map[string]float64{
		`name.familyName eq "Even"`: 4, `name.familyname eq "even"`: 4, `name.familyName ne "Even"`: 3,
		`userName sw "user1"`: 1, `userName ew "@acme.example"`: 7, `userName co "ser3"`: 1,
		`name.familyName eq "Even" and (userName co "0" or userName co "2")`:             2,
		`not (name.familyName eq "Even")`:                                                3,
		`name.familyName eq "Odd" or name.givenName eq "User0"`:                          4,
		scim.URNEnterprise + `:employeeNumber ge "103"`:                                  4,
		scim.URNEnterprise + `:employeeNumber lt "102"`:                                  2,
		`meta.created gt "2001-01-01T00:00:00Z"`:                                         7,
		`meta.created lt "2001-01-01T00:00:00Z"`:                                         0,
		`title pr`:                                                                       0,
		`externalId pr and active eq true`:                                               7,
		`emails[type eq "work" and value sw "user6"]`:                                    1,
		`name.FamilyName eq Even and (emails.Value co example.com or emails.Value co x)`: 4,
		`userName sw U`: 7,
	} {
		if got := count(f); got != want {
			t.Errorf("%s: %v results, want %v", f, got, want)
		}
	}
	for _, f := range []string{`userName eq`, `userName xx "a"`, `(userName eq "a"`, `active gt true`, `emails[type eq "work"`, `userName eq "a" and`,
		`emails[value eq "a" and x[y eq "z"]]`, strings.Repeat("(", 40) + `userName eq "a"` + strings.Repeat(")", 40)} {
		e.wantError(e.do("GET", "/Users?filter="+f, nil), 400, scim.TypeInvalidFilter, "filter:")
	}
	// Pages: startIndex counts from 1, the order is creation's on every page.
	var seen []string
	for start := 1; start <= 7; start += 3 {
		l := e.want(e.do("GET", fmt.Sprintf("/Users?startIndex=%d&count=3", start), nil), 200)
		if l["totalResults"] != 7.0 || l["startIndex"] != float64(start) {
			t.Fatalf("page %d: %v", start, l)
		}
		for _, r := range l["Resources"].([]any) {
			seen = append(seen, r.(map[string]any)["id"].(string))
		}
	}
	if strings.Join(seen, ",") != strings.Join(ids, ",") {
		t.Fatalf("pages gave %v, want %v", seen, ids)
	}
	l := e.want(e.do("GET", `/Users?filter=name.familyName eq "Even"&startIndex=2&count=2`, nil), 200)
	if l["totalResults"] != 4.0 || l["itemsPerPage"] != 2.0 || get(l, "Resources.0.id") != ids[2] {
		t.Fatalf("a filtered page: %v", l)
	}
	if l := e.want(e.do("GET", "/Users?count=0", nil), 200); l["totalResults"] != 7.0 || len(l["Resources"].([]any)) != 0 {
		t.Fatalf("count=0: %v", l)
	}
	if l := e.want(e.do("GET", "/Users?startIndex=50", nil), 200); l["totalResults"] != 7.0 || len(l["Resources"].([]any)) != 0 {
		t.Fatalf("past the end: %v", l)
	}
	e.wantError(e.do("GET", "/Users?count=many", nil), 400, scim.TypeInvalidValue, "count")
	// attributes and excludedAttributes; id and schemas always come.
	l = e.want(e.do("GET", "/Users?attributes=userName,name.givenName,"+scim.URNEnterprise+":employeeNumber"+"&count=1", nil), 200)
	one := get(l, "Resources.0").(map[string]any)
	if len(one) != 5 || one["userName"] != "user0@acme.example" || get(one, "name.givenName") != "User0" || get(one, "name.familyName") != nil ||
		getURN(one, scim.URNEnterprise+".employeeNumber") != "100" || one["id"] == nil || one["schemas"] == nil {
		t.Fatalf("attributes: %v", one)
	}
	one = e.want(e.do("GET", "/Users/"+ids[0]+"?excludedAttributes=emails,name.formatted,meta", nil), 200)
	if one["emails"] != nil || get(one, "name.formatted") != nil || one["meta"] != nil || get(one, "name.givenName") != "User0" || one["userName"] == nil {
		t.Fatalf("excludedAttributes: %v", one)
	}
}

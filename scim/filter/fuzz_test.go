package filter

import (
	"encoding/json"
	"strings"
	"testing"
)

// sampleUser is a user as usher describes one, for FuzzFilter to match:
// the same user as scim's FuzzPatch patches.
func sampleUser() map[string]any {
	var m map[string]any
	_ = json.Unmarshal([]byte(`{"schemas":["`+URNUser+`"],"id":"0190a1b2","userName":"ada@acme.example","active":true,
		"name":{"givenName":"Ada","familyName":"Lovelace","formatted":"Ada Lovelace"},"displayName":"Ada Lovelace","externalId":"e-1",
		"emails":[{"value":"ada@acme.example","type":"work","primary":true},{"value":"ada@home.example","type":"home"}],
		"phoneNumbers":[{"value":"+31612345678","type":"mobile"}],"title":"Engineer",
		"`+URNEnterprise+`":{"employeeNumber":"7","department":"R&D","manager":{"value":"m-1"}},
		"groups":[{"value":"g-1","display":"Ops"}],"meta":{"created":"2026-01-02T03:04:05Z","version":"W/\"a\""}}`), &m)
	return m
}

// FuzzFilter: any text parses to a filter or an error, never a panic, and
// a filter that parses matches a document exactly when its negation does not.
func FuzzFilter(f *testing.F) {
	for _, s := range []string{
		`userName eq "ada@acme.example"`, `emails[type eq "work"].value eq "ada@acme.example"`,
		`name.familyName eq Employee and (emails.Value co example.com or emails.Value co example.org)`,
		`not (active eq false) and meta.created gt "2001-01-01T00:00:00Z"`, `title pr or ` + URNEnterprise + `:employeeNumber ge "5"`,
		`members[value eq "x" and display sw "A"]`, `userName sw O`, `externalId eq null`, `a eq 1.5e3`, `emails[type eq "work"`,
		`userName eq "\u00e9\"\\"`, `((((a eq "b"))))`,
	} {
		f.Add(s)
	}
	doc := sampleUser()
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := Parse(s)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without words")
			}
			return
		}
		if Match(flt, doc) == Match(Not{flt}, doc) {
			t.Fatalf("%q and its negation agree", s)
		}
		if _, err := ParsePatchPath(s); err == nil && !strings.ContainsAny(s, "[ ") && strings.TrimSpace(s) == s {
			t.Fatalf("%q is both a filter and a path", s)
		}
	})
}

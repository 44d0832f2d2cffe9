package scim

import (
	"encoding/json"
	"testing"
)

// sampleUser is a user as usher describes one, for FuzzPatch to patch
// (filter's FuzzFilter matches the same user).
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

// FuzzPatch: any body decodes to operations or a SCIM error, never a
// panic; operations that apply leave a document usher reads back.
func FuzzPatch(f *testing.F) {
	for _, s := range []string{
		`{"schemas":["` + URNPatch + `"],"Operations":[{"op":"Replace","value":{"name.givenName":"A","` + URNEnterprise + `:employeeNumber":"9","active":"False"}}]}`,
		`{"schemas":["` + URNPatch + `"],"Operations":[{"op":"replace","path":"emails[type eq \"work\"].value","value":"x@y.z"}]}`,
		`{"schemas":["` + URNPatch + `"],"Operations":[{"op":"add","path":"` + URNEnterprise + `:manager","value":"m-2"}]}`,
		`{"schemas":["` + URNPatch + `"],"Operations":[{"op":"remove","path":"emails[type eq \"home\"]"},{"op":"remove","path":"name.formatted"}]}`,
		`{"Operations":[{"op":"add","path":"members","value":[{"value":"u1","displayName":"New"}]}]}`,
		`{"Operations":[{"op":"remove","path":"members","value":[{"value":"u1"}]}]}`,
		`{"Operations":[{"op":"replace","path":"addresses[type eq \"work\"].locality","value":"Leeds"}]}`,
		`{"Operations":[{"op":"replace","path":"phoneNumbers.value","value":["+1"]}]}`,
		`{"Operations":"nope"}`, `[]`, `{"Operations":[{"op":"add"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		body, err := decodeObject(raw)
		if err != nil {
			return
		}
		ops, err := DecodePatch(body)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("not a SCIM error: %v", err)
			}
			return
		}
		for _, ra := range []resourceAttrs{userAttrs, groupAttrs} {
			doc := sampleUser()
			if err := applyPatch(ra, doc, ops); err != nil {
				if _, ok := err.(*Error); !ok {
					t.Fatalf("not a SCIM error: %v", err)
				}
				continue
			}
			if _, err := canonical(ra, doc); err != nil {
				t.Fatalf("a patched document does not read back: %v\n%s", err, raw)
			}
			if _, err := json.Marshal(doc); err != nil {
				t.Fatalf("a patched document does not encode: %v", err)
			}
		}
	})
}

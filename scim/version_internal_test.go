package scim

import (
	"encoding/json"
	"testing"
)

// A version changes with any value of the document, wherever it is, and
// not with the order its keys were set in.
func TestVersion(t *testing.T) {
	const base = `{"id":"a","active":true,"userName":"ann@x","name":{"givenName":"Ann","familyName":"Lee"},
		"emails":[{"value":"ann@x","primary":true}],"n":1,"nothing":null}`
	doc := func(s string) map[string]any {
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	v := version(doc(base))
	if reordered := version(doc(`{"nothing":null,"n":1,"emails":[{"primary":true,"value":"ann@x"}],
		"name":{"familyName":"Lee","givenName":"Ann"},"userName":"ann@x","active":true,"id":"a"}`)); reordered != v {
		t.Errorf("the same document in another order: %s, then %s", v, reordered)
	}
	seen := map[string]string{v: base}
	for _, changed := range []string{
		`{"id":"a","active":false,"userName":"ann@x","name":{"givenName":"Ann","familyName":"Lee"},"emails":[{"value":"ann@x","primary":true}],"n":1,"nothing":null}`,
		`{"id":"a","active":true,"userName":"ann@x","name":{"givenName":"An","familyName":"nLee"},"emails":[{"value":"ann@x","primary":true}],"n":1,"nothing":null}`,
		`{"id":"a","active":true,"userName":"ann@x","name":{"givenName":"Ann","familyName":"Lee"},"emails":[{"value":"ann@x","primary":false}],"n":1,"nothing":null}`,
		`{"id":"a","active":true,"userName":"ann@x","name":{"givenName":"Ann","familyName":"Lee"},"emails":[{"value":"ann@x","primary":true}],"n":2,"nothing":null}`,
		`{"id":"a","active":true,"userName":"ann@x","name":{"givenName":"Ann","familyName":"Lee"},"emails":[{"value":"ann@x","primary":true}],"n":1,"nothing":""}`,
		`{"id":"a","active":true,"userName":"ann@x","name":{"givenName":"Ann","familyName":"Lee"},"emails":[{"value":"ann@x","primary":true}],"n":1}`,
		`{"id":"a","active":true,"userName":"ann@x","name":{"givenName":"Ann","familyName":"Lee"},"emails":[{"value":"ann@x","primary":true},{"value":"ann@x"}],"n":1,"nothing":null}`,
		`{"id":"a","active":true,"userName":"ann@x","name":{"givenName":"Ann","familyName":"Lee"},"emails":{"value":"ann@x","primary":true},"n":1,"nothing":null}`,
		`{"id":"a","active":true,"userName":"ann@x","name":{"givenName":"Ann","familyName":"Lee"},"emails":[{"value":"ann@x","primary":true}],"n":"1","nothing":null}`,
	} {
		w := version(doc(changed))
		if prev, ok := seen[w]; ok {
			t.Errorf("%s\nand %s\nhave the same version %s", prev, changed, w)
		}
		seen[w] = changed
	}
	// Values set in Go, not read from JSON, count too.
	d := doc(base)
	d["meta"] = map[string]any{"n": 3, "list": []any{"x"}, "other": []string{"y"}}
	w1 := version(d)
	d["meta"].(map[string]any)["other"] = []string{"z"}
	if w2 := version(d); w1 == w2 || w1 == v {
		t.Errorf("versions %s, %s and %s", v, w1, w2)
	}
}

// BenchmarkVersion: the version of a user as Entra ID creates one.
func BenchmarkVersion(b *testing.B) {
	var d map[string]any
	json.Unmarshal([]byte(`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
		"id":"0193a7c2-1111-7000-8000-000000000001","externalId":"e-1","userName":"ann.lee@example.com","active":true,
		"name":{"givenName":"Ann","familyName":"Lee","formatted":"Ann Lee"},"displayName":"Ann Lee",
		"emails":[{"value":"ann.lee@example.com","type":"work","primary":true}],
		"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User":{"employeeNumber":"1001","department":"Sales"},
		"urn:usher:params:scim:schemas:extension:usher:2.0:User":{"state":"invited","language":"en","plan":"big"},
		"meta":{"resourceType":"User","created":"2026-12-07T06:00:00.123456Z","lastModified":"2026-12-07T06:00:00.123456Z","location":"https://acme.example/scim/v2/Users/0193a7c2-1111-7000-8000-000000000001"}}`), &d)
	b.ReportAllocs()
	for b.Loop() {
		version(d)
	}
}

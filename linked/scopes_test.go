package linked

import (
	"slices"
	"testing"

	"golang.org/x/oauth2"
)

// TestScopes: a token response that names its scopes is read; one that
// does not granted what was asked; identity scopes never count as missing
// (Google answers "email" as …/userinfo.email).
func TestScopes(t *testing.T) {
	asked := []string{"openid", "email", "offline_access", "https://www.googleapis.com/auth/calendar"}
	tok := (&oauth2.Token{AccessToken: "a"}).WithExtra(map[string]any{"scope": "openid https://www.googleapis.com/auth/userinfo.email"})
	got := grantedScopes(tok, asked)
	if miss := missingScopes(asked, got); !slices.Equal(miss, []string{"https://www.googleapis.com/auth/calendar"}) {
		t.Fatalf("missing %v", miss)
	}
	if miss := missingScopes(asked, grantedScopes(&oauth2.Token{AccessToken: "a"}, asked)); len(miss) != 0 {
		t.Fatalf("a response without scope: missing %v", miss)
	}
}

package secret

import (
	"encoding/base64"
	"testing"
)

func TestNew(t *testing.T) {
	s1, h1 := New()
	s2, h2 := New()
	if s1 == s2 || h1 == h2 {
		t.Fatal("two secrets are equal")
	}
	raw, err := base64.RawURLEncoding.DecodeString(s1)
	if err != nil || len(raw) != 32 {
		t.Fatalf("secret %q: %d bytes, %v; want 32 URL-safe bytes", s1, len(raw), err)
	}
	if Hash(s1) != h1 {
		t.Fatal("the hash returned is not Hash(secret)")
	}
	if len(h1) != 64 {
		t.Fatalf("hash %q is not hex SHA-256", h1)
	}
}

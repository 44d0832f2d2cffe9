package password

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		pw   string
		ok   bool
		want string
	}{
		{"short", false, "at least 8"},
		{"password", false, "most common"},
		{"PassWord", false, "most common"},
		{"iloveyou", false, "most common"},
		{strings.Repeat("x", 129), false, "at most 128"},
		{"aaaaaaaaaaaa", false, "repeated"},
		{"ada@demo.example", false, "must not be your"},
		{"correct horse battery staple", true, ""},
		{"ñandú-über-straße", true, ""},
		{strings.Repeat("ab", 32), true, ""},
	} {
		err := Check("password", tc.pw, "ada@demo.example")
		if (err == nil) != tc.ok || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("Check(%q) = %v, want ok=%v %q", tc.pw, err, tc.ok, tc.want)
		}
	}
	if len(common()) < 10000 {
		t.Fatalf("the embedded list has %d passwords", len(common()))
	}
}

func TestHashVerify(t *testing.T) {
	ctx := context.Background()
	h, err := Hash(ctx, "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=7168,t=5,p=1$") {
		t.Fatalf("hash %q, want OWASP's m=7168,t=5,p=1", h)
	}
	h2, _ := Hash(ctx, "correct horse battery staple")
	if h == h2 {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	for pw, want := range map[string]bool{"correct horse battery staple": true, "correct horse battery stapl": false, "": false} {
		ok, err := Verify(ctx, h, pw)
		if err != nil || ok != want {
			t.Errorf("Verify(%q) = %v %v, want %v", pw, ok, err, want)
		}
	}
	if _, err := Verify(ctx, "$2a$10$bcrypt", "x"); err == nil {
		t.Fatal("a bcrypt hash must be refused")
	}
	if NeedsRehash(h) {
		t.Fatalf("NeedsRehash(%q) for a hash made now", h)
	}
}

// TestOldParameters: a hash made with the parameters of earlier versions
// (OWASP's 19 MiB, 2 passes) still verifies, and NeedsRehash asks for it to
// be remade.
func TestOldParameters(t *testing.T) {
	ctx := context.Background()
	salt := []byte("sixteen byte salt")
	for _, h := range []string{
		// As stored by earlier versions.
		"$argon2id$v=19$m=19456,t=2,p=1$ijky4Sh/TbFIGcuImfil0Q$6qHOUxSOefhnrqdaRQnWcpug6tZvuttDT6UfkwCouCk",
		fmt.Sprintf("$argon2id$v=19$m=19456,t=2,p=1$%s$%s", base64.RawStdEncoding.EncodeToString(salt),
			base64.RawStdEncoding.EncodeToString(argon2.IDKey([]byte("correct horse battery staple"), salt, 2, 19456, 1, 32))),
	} {
		if ok, err := Verify(ctx, h, "correct horse battery staple"); err != nil || !ok {
			t.Fatalf("Verify(%q) = %v %v, want a match", h, ok, err)
		}
		if ok, err := Verify(ctx, h, "correct horse battery stapler"); err != nil || ok {
			t.Fatalf("Verify(%q) of another password = %v %v, want no match", h, ok, err)
		}
		if !NeedsRehash(h) {
			t.Fatalf("NeedsRehash(%q) = false for 19 MiB, 2 passes", h)
		}
	}
}

// TestParseRefuses: a stored hash may not make a verification take
// unbounded memory or time, nor make the library panic.
func TestParseRefuses(t *testing.T) {
	const salt, key = "c29tZXNhbHRzb21lc2FsdA", "c2l4dGVlbiBieXRlcyBvZiBrZXkgbWF0ZXJpYWw"
	phc := func(v, params string) string { return "$argon2id$" + v + "$" + params + "$" + salt + "$" + key }
	for _, tc := range []struct{ phc, want string }{
		{phc("v=19", "m=4194304,t=2,p=1"), "4194304 KiB of memory"}, // 4 GiB
		{phc("v=19", "m=65537,t=1,p=1"), "65537 KiB of memory"},
		{phc("v=19", "m=4,t=2,p=1"), "4 KiB of memory"},
		{phc("v=19", "m=16,t=2,p=4"), "16 KiB of memory"}, // below 8 KiB per lane
		{phc("v=19", "m=7168,t=1000000,p=1"), "1000000 passes"},
		{phc("v=19", "m=7168,t=0,p=1"), "0 passes"},
		{phc("v=19", "m=7168,t=5,p=0"), "0 lanes"},
		{phc("v=19", "m=7168,t=5,p=255"), "255 lanes"},
		{phc("v=19", "m=99999999999,t=5,p=1"), "malformed"}, // beyond 32 bits
		{phc("v=19", "m=-1,t=5,p=1"), "malformed"},
		{phc("v=19", "m=+7168,t=5,p=1"), "malformed"},
		{phc("v=19", "m=7168,t=5"), "malformed"},
		{phc("v=19", "m=7168,t=5,p=1,keyid=x"), "malformed"},
		{phc("v=19", "t=5,m=7168,p=1"), "malformed"},
		{phc("v=19", "m=7168 ,t=5,p=1"), "malformed"},
		{phc("v=16", "m=7168,t=5,p=1"), "version"},
		{phc("v=19x", "m=7168,t=5,p=1"), "version"},
		{"$argon2i$v=19$m=7168,t=5,p=1$" + salt + "$" + key, "not an argon2id"},
		{"$argon2id$v=19$m=7168,t=5,p=1$" + salt + "$" + key + "$", "not an argon2id"},
		{"$argon2id$v=19$m=7168,t=5,p=1$c2FsdA$" + key, "salt has 4 bytes"},
		{"$argon2id$v=19$m=7168,t=5,p=1$" + salt + "$a2V5", "key has 3 bytes"},
		{"$argon2id$v=19$m=7168,t=5,p=1$" + salt + "$" + strings.Repeat("A", 100), "key has 75 bytes"},
		{"$argon2id$v=19$m=7168,t=5,p=1$" + salt + "==$" + key, "salt is not unpadded base64"},
		{"$argon2id$v=19$m=7168,t=5,p=1$" + salt + "$" + key + "!", "key is not unpadded base64"},
	} {
		if _, err := parse(tc.phc); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parse(%q) = %v, want an error saying %q", tc.phc, err, tc.want)
		}
		if ok, err := Verify(context.Background(), tc.phc, "x"); ok || err == nil {
			t.Errorf("Verify(%q) = %v %v, want a refusal", tc.phc, ok, err)
		}
		if !NeedsRehash(tc.phc) {
			t.Errorf("NeedsRehash(%q) = false for a hash that cannot be read", tc.phc)
		}
	}
	// The bounds themselves are accepted: RFC 9106's second recommendation.
	if _, err := parse(phc("v=19", "m=65536,t=3,p=4")); err != nil {
		t.Errorf("RFC 9106's 64 MiB, t=3, p=4: %v", err)
	}
}

// BenchmarkHash measures one argon2id hash with today's parameters: the
// cost of a password sign-in or activation on this machine.
func BenchmarkHash(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		if _, err := Hash(ctx, "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkVerifyParallel is as many verifications at once as there are
// cores: the most password checks per second this machine can do.
func BenchmarkVerifyParallel(b *testing.B) {
	h, err := Hash(context.Background(), "correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if ok, err := Verify(context.Background(), h, "correct horse battery staple"); err != nil || !ok {
				b.Error("verify failed", err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifies/s")
}

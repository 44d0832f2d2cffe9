package password

import (
	"context"
	"strings"
	"testing"
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
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q", h)
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
	if NeedsRehash(h) || !NeedsRehash("$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$a2V5") {
		t.Fatal("NeedsRehash")
	}
}

// BenchmarkHash measures one OWASP argon2id hash: the cost of a password
// sign-in or activation on this machine.
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

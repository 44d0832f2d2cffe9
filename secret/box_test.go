package secret

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestBox(t *testing.T) {
	k1, k2 := bytes.Repeat([]byte{1}, KeySize), bytes.Repeat([]byte{2}, KeySize)
	b, err := NewBox(k1)
	if err != nil {
		t.Fatal(err)
	}
	sealed := b.Seal([]byte("the client secret"), "connection/t1/c1")
	if strings.Contains(sealed, "client secret") || !Sealed(sealed) {
		t.Fatalf("sealed: %q", sealed)
	}
	if again := b.Seal([]byte("the client secret"), "connection/t1/c1"); again == sealed {
		t.Fatal("two seals of one value are equal: the nonce is not random")
	}
	plain, err := b.Open(sealed, "connection/t1/c1")
	if err != nil || string(plain) != "the client secret" {
		t.Fatalf("open: %q %v", plain, err)
	}
	// Bound to its purpose: copied to another row, it does not open.
	if _, err := b.Open(sealed, "connection/t2/c1"); !errors.Is(err, ErrSealed) {
		t.Fatalf("opened for another purpose: %v", err)
	}
	// Damaged.
	bad := sealed[:len(sealed)-2] + "AA"
	if _, err := b.Open(bad, "connection/t1/c1"); !errors.Is(err, ErrSealed) {
		t.Fatalf("opened a damaged value: %v", err)
	}
	for _, junk := range []string{"", "plain text", "v1.abc", "v2.x.y", "v1.00000000.!!!"} {
		if _, err := b.Open(junk, "p"); !errors.Is(err, ErrSealed) {
			t.Errorf("%q: %v", junk, err)
		}
	}
	// A new key seals; the old one still opens what it sealed.
	rotated, err := NewBox(k2, k1)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := rotated.Open(sealed, "connection/t1/c1"); err != nil || string(p) != "the client secret" {
		t.Fatalf("after rotation: %q %v", p, err)
	}
	if s := rotated.Seal([]byte("x"), "p"); !strings.HasPrefix(s, "v1."+KeyID(k2)+".") {
		t.Fatalf("rotated box seals with %q", s)
	}
	// Without the old key: refused, saying which key it needs.
	only2, _ := NewBox(k2)
	if _, err := only2.Open(sealed, "connection/t1/c1"); !errors.Is(err, ErrSealed) || !strings.Contains(err.Error(), KeyID(k1)) {
		t.Fatalf("without its key: %v", err)
	}
	if _, err := NewBox([]byte("short")); err == nil {
		t.Fatal("a short key was taken")
	}
}

func TestKeys(t *testing.T) {
	file := filepath.Join(t.TempDir(), "sub", "secret.key")
	k, err := LoadOrCreateKey(file)
	if err != nil || len(k) != KeySize {
		t.Fatalf("create: %d bytes, %v", len(k), err)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", fi, err)
	}
	again, err := LoadOrCreateKey(file)
	if err != nil || !bytes.Equal(k, again) {
		t.Fatal("the key changed on the second start")
	}
	for _, s := range []string{"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=", "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE", strings.Repeat("01", KeySize)} {
		if k, err := ParseKey(s); err != nil || !bytes.Equal(k, bytes.Repeat([]byte{1}, KeySize)) {
			t.Errorf("%q: %x %v", s, k, err)
		}
	}
	for _, s := range []string{"", "not a key", "AQEB"} {
		if _, err := ParseKey(s); err == nil {
			t.Errorf("%q was taken as a key", s)
		}
	}
	os.WriteFile(file, []byte("garbage"), 0o600)
	if _, err := LoadOrCreateKey(file); err == nil || !strings.Contains(err.Error(), file) {
		t.Fatalf("a damaged key file: %v", err)
	}
}

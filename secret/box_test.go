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
	// What the old key sealed is stale until re-sealed; plain values and
	// the current key's are not.
	if !rotated.Stale(sealed) || b.Stale(sealed) || rotated.Stale("plain text") || rotated.Stale(rotated.Seal([]byte("x"), "p")) {
		t.Fatal("Stale is wrong")
	}
	resealed, changed, err := rotated.Reseal(sealed, "connection/t1/c1")
	if err != nil || !changed || rotated.Stale(resealed) {
		t.Fatalf("reseal: %q %v %v", resealed, changed, err)
	}
	if again, changed, err := rotated.Reseal(resealed, "connection/t1/c1"); err != nil || changed || again != resealed {
		t.Fatalf("reseal of a current value: %v %v", changed, err)
	}
	if s, changed, err := rotated.Reseal("plain text", "p"); err != nil || !changed || !Sealed(s) {
		t.Fatalf("reseal of a plain value: %q %v %v", s, changed, err)
	}
	if _, changed, err := rotated.Reseal("", "p"); err != nil || changed {
		t.Fatalf("reseal of nothing: %v %v", changed, err)
	}
	if _, _, err := rotated.Reseal(sealed, "connection/t2/c1"); !errors.Is(err, ErrSealed) {
		t.Fatalf("reseal for another purpose: %v", err)
	}
	only2, _ := NewBox(k2)
	if p, err := only2.Open(resealed, "connection/t1/c1"); err != nil || string(p) != "the client secret" {
		t.Fatalf("re-sealed, with the new key alone: %q %v", p, err)
	}
	// Without the old key: refused, saying which key it needs.
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

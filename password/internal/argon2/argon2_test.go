package argon2

import (
	"bytes"
	"encoding/hex"
	"math/rand/v2"
	"testing"

	xargon2 "golang.org/x/crypto/argon2"
)

// TestSameAsLibrary: every key equals golang.org/x/crypto/argon2.IDKey's,
// also when one Memory serves hashes of different sizes one after another
// (the reuse is what this package adds).
func TestSameAsLibrary(t *testing.T) {
	var m Memory
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 40 {
		pw := make([]byte, rng.IntN(40))
		salt := make([]byte, 8+rng.IntN(16))
		for j := range pw {
			pw[j] = byte(rng.Uint32())
		}
		for j := range salt {
			salt[j] = byte(rng.Uint32())
		}
		time, memory, threads := uint32(1+rng.IntN(3)), uint32(8+rng.IntN(300)), uint8(1+rng.IntN(4))
		if i%10 == 0 {
			time, memory, threads = 2, 19*1024, 1 // usher's parameters
		}
		got := IDKey(&m, pw, salt, time, memory, threads, 32)
		want := xargon2.IDKey(pw, salt, time, memory, threads, 32)
		if !bytes.Equal(got, want) {
			t.Fatalf("case %d (t=%d m=%d p=%d): %x, the library says %x", i, time, memory, threads, got, want)
		}
	}
}

// TestKnownAnswer is the argon2id example of the reference implementation
// (github.com/P-H-C/phc-winner-argon2): "password", "somesalt", t=2, 64 MiB, p=1.
func TestKnownAnswer(t *testing.T) {
	var m Memory
	got := hex.EncodeToString(IDKey(&m, []byte("password"), []byte("somesalt"), 2, 65536, 1, 32))
	const want = "09316115d5cf24ed5a15a31a3ba326e5cf32edc24702987c02b6566f61913cf7"
	if got != want {
		t.Fatalf("argon2id(password, somesalt, t=2, m=64 MiB, p=1) = %s, want %s", got, want)
	}
}

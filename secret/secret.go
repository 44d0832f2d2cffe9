// Package secret makes and hashes the random secrets usher hands out:
// activation links, sessions, API tokens, sign-in codes. Only hashes are
// stored. It is a leaf, so every package that checks a secret can use it
// without importing the one that issued it.
package secret

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
)

// New returns a 256-bit random secret, URL-safe, and its hash, which is all
// that is stored.
func New() (secret, hash string) {
	b := make([]byte, 32)
	rand.Read(b) // never fails: crypto/rand panics rather than return short
	secret = base64.RawURLEncoding.EncodeToString(b)
	return secret, Hash(secret)
}

// Hash hashes a high-entropy secret for storage and lookup. A fast hash is
// right here: the secret is random, not a password.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the size of a box key: AES-256.
const KeySize = 32

// Box seals the secrets usher must be able to read back (signing keys,
// identity providers' client secrets, linked accounts' refresh tokens) for
// keeping in the database: AES-256-GCM under a key from the configuration,
// never stored beside them. A sealed value names its key, so a new key can
// be introduced while values sealed with older ones are still opened.
type Box struct {
	current string
	keys    map[string]cipher.AEAD
}

// NewBox returns a box that seals with the first key and opens with any.
func NewBox(keys ...[]byte) (*Box, error) {
	if len(keys) == 0 {
		return nil, errors.New("secret box: no key")
	}
	b := &Box{keys: map[string]cipher.AEAD{}}
	for i, k := range keys {
		if len(k) != KeySize {
			return nil, fmt.Errorf("secret box: key %d has %d bytes, want %d", i+1, len(k), KeySize)
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("secret box: %w", err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("secret box: %w", err)
		}
		id := KeyID(k)
		if i == 0 {
			b.current = id
		}
		b.keys[id] = aead
	}
	return b, nil
}

// KeyID names the key b seals with.
func (b *Box) KeyID() string { return b.current }

// KeyID names a key without revealing it: the first 8 hex digits of its
// SHA-256.
func KeyID(key []byte) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:4])
}

// Seal encrypts plain for keeping. purpose binds it to where it is kept
// (say "signing-key/<tenant>/<kid>"): a value copied to another row does
// not open there.
func (b *Box) Seal(plain []byte, purpose string) string {
	aead := b.keys[b.current]
	nonce := make([]byte, aead.NonceSize())
	rand.Read(nonce)
	out := aead.Seal(nonce, nonce, plain, []byte(purpose))
	return "v1." + b.current + "." + base64.RawURLEncoding.EncodeToString(out)
}

// ErrSealed: a sealed value could not be opened (another key, another
// purpose, or damaged).
var ErrSealed = errors.New("secret box: the value cannot be opened with the configured keys")

// Open decrypts what Seal made for the same purpose.
func (b *Box) Open(sealed, purpose string) ([]byte, error) {
	parts := strings.SplitN(sealed, ".", 3)
	if len(parts) != 3 || parts[0] != "v1" {
		return nil, fmt.Errorf("%w: not a sealed value", ErrSealed)
	}
	aead, ok := b.keys[parts[1]]
	if !ok {
		return nil, fmt.Errorf("%w: it was sealed with key %s, which is not configured", ErrSealed, parts[1])
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(raw) < aead.NonceSize()+aead.Overhead() {
		return nil, fmt.Errorf("%w: damaged", ErrSealed)
	}
	plain, err := aead.Open(nil, raw[:aead.NonceSize()], raw[aead.NonceSize():], []byte(purpose))
	if err != nil {
		return nil, ErrSealed
	}
	return plain, nil
}

// Stale reports whether v was sealed with a key that is not the current
// one: it opens only while that key is configured, until it is re-sealed.
// A plain value is not stale.
func (b *Box) Stale(v string) bool {
	if !Sealed(v) {
		return false
	}
	id, _, _ := strings.Cut(strings.TrimPrefix(v, "v1."), ".")
	return id != b.current
}

// Reseal is kept as the current key would keep it: a value sealed with an
// older key is opened and sealed anew for the same purpose, a plain one
// (kept before a key was configured) is sealed. changed is false when kept
// needs nothing (sealed with the current key, or empty).
func (b *Box) Reseal(kept, purpose string) (resealed string, changed bool, err error) {
	switch {
	case kept == "" || Sealed(kept) && !b.Stale(kept):
		return kept, false, nil
	case !Sealed(kept):
		return b.Seal([]byte(kept), purpose), true, nil
	}
	plain, err := b.Open(kept, purpose)
	if err != nil {
		return kept, false, err
	}
	return b.Seal(plain, purpose), true, nil
}

// Keep is how a secret is kept in the database: sealed for purpose, or as
// it is where no box is configured (tests, and stores from before keys).
// The one helper every keeper of secrets uses (identity providers' client
// secrets, SAML keys, linked accounts' tokens); b may be nil.
func (b *Box) Keep(plain, purpose string) string {
	if b == nil || plain == "" {
		return plain
	}
	return b.Seal([]byte(plain), purpose)
}

// Reveal reads what Keep kept: a sealed value is opened for purpose, a
// plain one is returned as it is. what names it in errors ("connection X's
// client secret").
func (b *Box) Reveal(kept, purpose, what string) (string, error) {
	if !Sealed(kept) {
		return kept, nil
	}
	if b == nil {
		return "", fmt.Errorf("%s is sealed and no key is configured", what)
	}
	plain, err := b.Open(kept, purpose)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	return string(plain), nil
}

// Sealed reports whether s looks like a value Seal made.
func Sealed(s string) bool { return strings.HasPrefix(s, "v1.") && strings.Count(s, ".") >= 2 }

// ParseKey reads a key written as base64 (standard or URL alphabet, with
// or without padding) or as 64 hex digits.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 2*KeySize {
		if k, err := hex.DecodeString(s); err == nil {
			return k, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if k, err := enc.DecodeString(s); err == nil {
			if len(k) != KeySize {
				return nil, fmt.Errorf("the key has %d bytes, want %d (generate one with: openssl rand -base64 32)", len(k), KeySize)
			}
			return k, nil
		}
	}
	return nil, errors.New("the key is neither base64 nor hex (generate one with: openssl rand -base64 32)")
}

// LoadOrCreateKey reads the key kept in file, creating the file with a new
// random key (readable by its owner only) when it does not exist. It is the
// embedded default's key; a deployment configures its own.
func LoadOrCreateKey(file string) ([]byte, error) {
	if b, err := os.ReadFile(file); err == nil {
		k, err := ParseKey(string(b))
		if err != nil {
			return nil, fmt.Errorf("key file %s: %w", file, err)
		}
		return k, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read key file: %w", err)
	}
	k := make([]byte, KeySize)
	rand.Read(k)
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return nil, fmt.Errorf("create key folder: %w", err)
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return LoadOrCreateKey(file) // another process made it first
	} else if err != nil {
		return nil, fmt.Errorf("create key file: %w", err)
	}
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(k) + "\n"); err != nil {
		f.Close()
		return nil, fmt.Errorf("write key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write key file: %w", err)
	}
	return k, nil
}

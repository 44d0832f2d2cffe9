// Package password owns usher's password rules and hashing: argon2id with
// OWASP's parameters, at most as many hashes at once as there are cores,
// length limits and a list of common passwords embedded in the binary. No
// composition rules: length and not-common are what make a password strong.
package password

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/usherhq/usher"
)

// The argon2id parameters of new hashes: OWASP's 7 MiB, 5 passes, 1 lane
// (Keycloak's default), one of its equivalent settings with 19 MiB and 2
// passes; the smaller work area is what lets every hash allocate its own
// (BENCHMARKS.md). Hashes made with other parameters still verify (they
// are in the PHC string) and NeedsRehash tells sign-in to remake them.
const (
	memoryKiB = 7 * 1024
	passes    = 5
	lanes     = 1
	keyLen    = 32
	saltLen   = 16
)

// Length limits, in characters. The upper one only bounds the work.
const (
	MinLength = 8
	MaxLength = 128
)

// common.txt: the passwords of 8 characters or more among the 30,000 most
// common in zxcvbn's frequency list (MIT licence, see common.LICENSE).
//
//go:embed common.txt
var commonText string

var common = sync.OnceValue(func() map[string]struct{} {
	m := make(map[string]struct{}, 12000)
	sc := bufio.NewScanner(strings.NewReader(commonText))
	for sc.Scan() {
		m[sc.Text()] = struct{}{}
	}
	return m
})

// Check reports why pw may not be used, naming field; personal lists words
// the password must not be (the person's email, username, name).
func Check(field, pw string, personal ...string) error {
	n := utf8.RuneCountInString(pw)
	switch {
	case !utf8.ValidString(pw):
		return usher.Invalid(field, "is not valid text")
	case n < MinLength:
		return usher.Invalid(field, "must be at least %d characters long", MinLength)
	case n > MaxLength:
		return usher.Invalid(field, "must be at most %d characters long", MaxLength)
	}
	lower := strings.ToLower(pw)
	if _, ok := common()[lower]; ok {
		return usher.Invalid(field, "is one of the most common passwords; choose one that is harder to guess")
	}
	for _, p := range personal {
		if p != "" && strings.EqualFold(pw, p) {
			return usher.Invalid(field, "must not be your email, username or name")
		}
	}
	if strings.Count(pw, string([]rune(pw)[0])) == len(pw) {
		return usher.Invalid(field, "must not be one character repeated")
	}
	return nil
}

// slots bounds the hashes running at once to the cores, so latency
// degrades by queueing and at most one work area per core is in use.
var slots = make(chan struct{}, max(1, runtime.GOMAXPROCS(0)))

// idKey is argon2.IDKey in a slot.
func idKey(ctx context.Context, pw string, p params) ([]byte, error) {
	select {
	case slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-slots }()
	return argon2.IDKey([]byte(pw), p.salt, p.t, p.m, p.p, p.keyLen), nil
}

// Hash returns the PHC string of pw: $argon2id$v=19$m=...,t=...,p=...$salt$hash.
func Hash(ctx context.Context, pw string) (string, error) {
	p := params{m: memoryKiB, t: passes, p: lanes, keyLen: keyLen, salt: make([]byte, saltLen)}
	if _, err := rand.Read(p.salt); err != nil {
		return "", fmt.Errorf("password salt: %w", err)
	}
	key, err := idKey(ctx, pw, p)
	if err != nil {
		return "", err
	}
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.m, p.t, p.p, b64.EncodeToString(p.salt), b64.EncodeToString(key)), nil
}

// Verify reports whether pw matches the PHC string. It reads the
// parameters from the string, so older hashes keep working when the
// parameters change; NeedsRehash tells when to upgrade them.
func Verify(ctx context.Context, phc, pw string) (bool, error) {
	p, err := parse(phc)
	if err != nil {
		return false, err
	}
	key, err := idKey(ctx, pw, p)
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(key, p.key) == 1, nil
}

// NeedsRehash reports whether phc was made with other parameters than today's.
func NeedsRehash(phc string) bool {
	p, err := parse(phc)
	return err != nil || p.m != memoryKiB || p.t != passes || p.p != lanes || p.keyLen != keyLen
}

// The largest parameters a stored hash may ask for. A hash is data read
// from the database (or imported), and its parameters decide how much
// memory and time a verification takes: without bounds one row could make
// every sign-in allocate gigabytes. These admit every setting OWASP lists
// (at most 46 MiB) and RFC 9106's second recommendation (64 MiB, t=3, p=4).
const (
	maxMemoryKiB = 64 * 1024
	maxPasses    = 10
	maxLanes     = 4
	minSaltLen   = 8
	maxSaltLen   = 64
	minKeyLen    = 16
	maxKeyLen    = 64
)

type params struct {
	m, t      uint32
	p         uint8
	keyLen    uint32
	salt, key []byte
}

// parse reads a PHC argon2id string, refusing parameters out of bounds.
func parse(phc string) (params, error) {
	var p params
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, fmt.Errorf("password hash is not an argon2id PHC string")
	}
	if parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return p, fmt.Errorf("password hash has argon2 version %q; only v=%d is supported", parts[2], argon2.Version)
	}
	var m, t, l uint64
	ps := strings.Split(parts[3], ",")
	if len(ps) != 3 || !number(ps[0], "m=", &m) || !number(ps[1], "t=", &t) || !number(ps[2], "p=", &l) {
		return p, fmt.Errorf("password hash has malformed argon2 parameters %q; want m=<KiB>,t=<passes>,p=<lanes>", parts[3])
	}
	switch {
	case l < 1 || l > maxLanes:
		return p, fmt.Errorf("password hash asks for %d lanes; usher accepts 1 to %d", l, maxLanes)
	case m < 8*l || m > maxMemoryKiB:
		return p, fmt.Errorf("password hash asks for %d KiB of memory; usher accepts %d to %d with %d lanes", m, 8*l, maxMemoryKiB, l)
	case t < 1 || t > maxPasses:
		return p, fmt.Errorf("password hash asks for %d passes; usher accepts 1 to %d", t, maxPasses)
	}
	p.m, p.t, p.p = uint32(m), uint32(t), uint8(l)
	var err error
	if p.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil {
		return p, fmt.Errorf("password hash salt is not unpadded base64: %w", err)
	}
	if len(p.salt) < minSaltLen || len(p.salt) > maxSaltLen {
		return p, fmt.Errorf("password hash salt has %d bytes; usher accepts %d to %d", len(p.salt), minSaltLen, maxSaltLen)
	}
	if p.key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil {
		return p, fmt.Errorf("password hash key is not unpadded base64: %w", err)
	}
	if len(p.key) < minKeyLen || len(p.key) > maxKeyLen {
		return p, fmt.Errorf("password hash key has %d bytes; usher accepts %d to %d", len(p.key), minKeyLen, maxKeyLen)
	}
	p.keyLen = uint32(len(p.key))
	return p, nil
}

// number reads s as prefix followed by a decimal number without sign into n.
func number(s, prefix string, n *uint64) bool {
	digits, ok := strings.CutPrefix(s, prefix)
	if !ok || digits == "" || digits[0] < '0' || digits[0] > '9' {
		return false
	}
	v, err := strconv.ParseUint(digits, 10, 32)
	*n = v
	return err == nil
}

// dummy is a hash of nothing anyone types, made once.
var dummy = sync.OnceValue(func() string {
	h, _ := Hash(context.Background(), "\x00usher dummy password\x00")
	return h
})

// VerifyNone spends the time of one verification and reports no match, so
// an unknown account answers as slowly as a wrong password.
func VerifyNone(ctx context.Context, pw string) error {
	_, err := Verify(ctx, dummy(), pw)
	return err
}

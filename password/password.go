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
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/usherhq/usher/password/internal/argon2"

	"github.com/usherhq/usher"
)

// OWASP's recommended argon2id parameters: 19 MiB, 2 passes, 1 lane.
const (
	memoryKiB = 19 * 1024
	passes    = 2
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
// degrades by queueing; each slot holds the 19 MiB work area of its hash
// for good, so memory stays flat under load and no hash waits for memory
// to be collected, cleared or faulted in.
var slots = func() chan *argon2.Memory {
	n := max(1, runtime.GOMAXPROCS(0))
	c := make(chan *argon2.Memory, n)
	for range n {
		c <- new(argon2.Memory) // allocated by its first hash
	}
	return c
}()

func acquire(ctx context.Context) (*argon2.Memory, error) {
	select {
	case m := <-slots:
		return m, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func release(m *argon2.Memory) { slots <- m }

// Hash returns the PHC string of pw: $argon2id$v=19$m=...,t=...,p=...$salt$hash.
func Hash(ctx context.Context, pw string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("salt: %w", err)
	}
	m, err := acquire(ctx)
	if err != nil {
		return "", err
	}
	key := argon2.IDKey(m, []byte(pw), salt, passes, memoryKiB, lanes, keyLen)
	release(m)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, memoryKiB, passes, lanes, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Verify reports whether pw matches the PHC string. It reads the
// parameters from the string, so older hashes keep working when the
// parameters change; NeedsRehash tells when to upgrade them.
func Verify(ctx context.Context, phc, pw string) (bool, error) {
	p, err := parse(phc)
	if err != nil {
		return false, err
	}
	m, err := acquire(ctx)
	if err != nil {
		return false, err
	}
	key := argon2.IDKey(m, []byte(pw), p.salt, p.t, p.m, p.p, uint32(len(p.key)))
	release(m)
	return subtle.ConstantTimeCompare(key, p.key) == 1, nil
}

// NeedsRehash reports whether phc was made with other parameters than today's.
func NeedsRehash(phc string) bool {
	p, err := parse(phc)
	return err != nil || p.m != memoryKiB || p.t != passes || p.p != lanes
}

type params struct {
	m, t      uint32
	p         uint8
	salt, key []byte
}

func parse(phc string) (params, error) {
	var p params
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return p, fmt.Errorf("not an argon2id hash")
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return p, fmt.Errorf("unsupported argon2 version %q", parts[2])
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.m, &p.t, &p.p); err != nil {
		return p, fmt.Errorf("bad argon2 parameters %q", parts[3])
	}
	var err error
	if p.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil {
		return p, fmt.Errorf("bad salt: %w", err)
	}
	if p.key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(p.key) == 0 {
		return p, fmt.Errorf("bad key")
	}
	return p, nil
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

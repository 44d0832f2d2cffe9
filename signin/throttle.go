package signin

import (
	"context"
	"net"
	"strings"
	"time"

	"github.com/usherhq/usher/store"
)

// A policy says how many failures a key gets for free within a window, and
// how the delay grows after that: doubling from one second up to a cap.
// The account's cap is short, so an attacker's guesses cannot keep a real
// person out for long (and a browser that signed in before has a counter
// of its own); a source address's cap is long.
type policy struct {
	free     int
	maxDelay time.Duration
}

// Failures are forgotten after this long without one.
const window = 15 * time.Minute

var (
	accountPolicy  = policy{free: 5, maxDelay: time.Minute}
	sourcePolicy   = policy{free: 30, maxDelay: 15 * time.Minute}
	registerPolicy = policy{free: 50, maxDelay: 15 * time.Minute}
)

func policyOf(key string) policy {
	switch {
	case strings.HasPrefix(key, "source:"):
		return sourcePolicy
	case strings.HasPrefix(key, "register:"):
		return registerPolicy
	}
	return accountPolicy
}

// A claim is one attempt reserved under each of its keys before a check:
// parallel checks meet the counters one at a time, so no more checks run
// than the counters allow. The check's outcome settles it: a failure keeps
// the attempts and restarts the keys' windows (failed), a success gives the
// source's attempt back and clears the account's counter (settle).
type claim struct {
	source string // the source address's key, or ""
	key    string // the account's, its known device's or the unknown identifier's key, or ""
}

// keys are the claim's keys in the one order every transaction locks them,
// so two attempts never wait on each other's locks.
func (c claim) keys() []string {
	var ks []string
	for _, k := range []string{c.source, c.key} {
		if k != "" {
			ks = append(ks, k)
		}
	}
	return ks
}

// reserve counts one attempt under each of the claim's keys, in one short
// transaction that holds the counters only while it decides (never during
// a hash), or refuses with the longest wait when a key is locked, counting
// nothing then.
func (s *Service) reserve(ctx context.Context, c claim) error {
	return s.take(ctx, c.keys(), false)
}

// take counts one attempt under every key. A final count (a registration)
// restarts the key's window; a reservation does so only when it opens a new
// window, and failed restarts it once the check has failed, so successes
// do not keep an office address's old failures alive.
func (s *Service) take(ctx context.Context, keys []string, final bool) error {
	var wait time.Duration
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		wait = 0 // the function may run again
		now := tx.Now()
		ths := make([]store.Throttle, 0, len(keys))
		for _, k := range keys {
			th, err := tx.LockThrottle(ctx, k)
			if err != nil {
				return err
			}
			if th.LockedUntil != nil && th.LockedUntil.After(now) {
				wait = max(wait, th.LockedUntil.Sub(now))
			}
			ths = append(ths, th)
		}
		if wait > 0 {
			return nil
		}
		for _, th := range ths {
			p := policyOf(th.Key)
			if th.Failures <= 0 || now.Sub(th.LastFailureAt) > window {
				th.Failures, th.LastFailureAt = 0, now
			}
			th.Failures++
			if final {
				th.LastFailureAt = now
			}
			th.LockedUntil = nil
			if th.Failures >= p.free {
				d := time.Second << min(th.Failures-p.free, 20)
				until := now.Add(min(d, p.maxDelay))
				th.LockedUntil = &until
			}
			if err := tx.SaveThrottle(ctx, th); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if wait > 0 {
		return &ThrottledError{RetryAfter: wait}
	}
	return nil
}

// failed keeps a failed check's attempts and restarts its keys' windows.
func (s *Service) failed(ctx context.Context, c claim) error {
	return s.st.Write(ctx, func(tx *store.Tx) error {
		for _, k := range c.keys() {
			th, err := tx.LockThrottle(ctx, k)
			if err != nil {
				return err
			}
			if th.Failures == 0 {
				continue // cleared by a success meanwhile
			}
			th.LastFailureAt = tx.Now()
			if err := tx.SaveThrottle(ctx, th); err != nil {
				return err
			}
		}
		return nil
	})
}

// settle ends a successful check's claim inside the caller's transaction,
// which should call it last so the counters' locks are held only until the
// commit: the source gets its attempt back (the people behind one office's
// address sign in all day) and the account's counter is cleared.
func (c claim) settle(ctx context.Context, tx *store.Tx) error {
	if c.source != "" {
		if err := giveBack(ctx, tx, c.source); err != nil {
			return err
		}
	}
	if c.key != "" {
		return tx.ClearThrottle(ctx, c.key)
	}
	return nil
}

// giveBack returns the attempt a success reserved under key.
func giveBack(ctx context.Context, tx *store.Tx, key string) error {
	th, err := tx.LockThrottle(ctx, key)
	if err != nil || th.Failures == 0 {
		return err
	}
	th.Failures--
	if th.Failures < policyOf(key).free {
		th.LockedUntil = nil
	}
	return tx.SaveThrottle(ctx, th)
}

// AllowRegistration counts a registration from source, refusing a flood.
func (s *Service) AllowRegistration(ctx context.Context, source string) error {
	return s.take(ctx, []string{"register:" + sourcePrefix(source)}, true)
}

func sourceKey(source string) string { return "source:" + sourcePrefix(source) }

// sourcePrefix groups IPv6 addresses by their /64, which one client holds.
func sourcePrefix(source string) string {
	ip := net.ParseIP(source)
	if ip == nil || ip.To4() != nil {
		return source
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

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

// Failures older than this are forgotten.
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

// reserve counts one attempt under every key, in one transaction that holds
// the counters while it decides, or refuses with the longest wait when a key
// is locked (counting nothing then).
func (s *Service) reserve(ctx context.Context, keys []string) error {
	var wait time.Duration
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		now := tx.Now()
		ths := make([]store.Throttle, 0, len(keys))
		// Always in the same order, so two attempts never wait on each other's locks.
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
			if now.Sub(th.LastFailureAt) > window {
				th.Failures = 0
			}
			th.Failures++
			th.LastFailureAt = now
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

// giveBack returns the attempt a success reserved under key: a source
// address counts failures, so the people behind one office's address can
// sign in all day.
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

// sourceOpen refuses when the source address is locked out, without
// counting: a source's counter counts failures only.
func (s *Service) sourceOpen(ctx context.Context, source string) error {
	th, err := s.st.Read().Throttle(ctx, sourceKey(source))
	if err != nil {
		return err
	}
	if now := s.now(); th.LockedUntil != nil && th.LockedUntil.After(now) {
		return &ThrottledError{RetryAfter: th.LockedUntil.Sub(now)}
	}
	return nil
}

// AllowRegistration counts a registration from source, refusing a flood.
func (s *Service) AllowRegistration(ctx context.Context, source string) error {
	return s.reserve(ctx, []string{"register:" + sourcePrefix(source)})
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

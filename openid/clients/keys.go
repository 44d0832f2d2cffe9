package clients

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/egress"
)

// A private_key_jwt client that rotates its keys publishes them at its
// jwks_uri. usher reads them through the guarded egress client, keeps them
// for remoteKeysTTL, and reads them again sooner when an assertion names a
// kid the set lacks (the client rotated), though not more often than
// remoteKeysGap: made-up kids cannot make usher fetch on every request.
const (
	remoteKeysTTL = 5 * time.Minute
	remoteKeysGap = 10 * time.Second
	// remoteKeysKeep: when a read fails, the keys last read serve on for
	// this long after that read, so a jwks_uri briefly down (or a made-up
	// kid that makes usher read it while it is) does not lock the client
	// out; one down for longer does not keep a removed key alive.
	remoteKeysKeep = time.Hour
	// remoteKeysMax bounds the answer read from a jwks_uri.
	remoteKeysMax = 64 << 10
)

// ErrRemoteKeys: the client's jwks_uri could not be read or holds no
// usable keys.
var ErrRemoteKeys = errors.New("the client's jwks_uri")

type remoteSet struct {
	mu      sync.Mutex
	uri     string
	keys    *jose.JSONWebKeySet
	fetched time.Time // the last read, good or not
	good    time.Time // the last good read, of keys
	err     error     // the last read's
}

type remoteKeys struct {
	mu sync.Mutex
	m  map[string]*remoteSet // by tenant id + "/" + client id
}

// forget drops a client's keys read from its jwks_uri (on this replica).
func (rk *remoteKeys) forget(tenant, client string) {
	rk.mu.Lock()
	defer rk.mu.Unlock()
	delete(rk.m, tenant+"/"+client)
}

func (rk *remoteKeys) set(key string) *remoteSet {
	rk.mu.Lock()
	defer rk.mu.Unlock()
	s := rk.m[key]
	if s == nil {
		if len(rk.m) > 10_000 {
			rk.m = map[string]*remoteSet{} // bounded: start over
		}
		s = &remoteSet{}
		rk.m[key] = s
	}
	return s
}

// fetchKeys reads the key set at uri.
func (p *Service) fetchKeys(ctx context.Context, uri string) (*jose.JSONWebKeySet, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, egress.RedactURL(err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := p.http.Do(req)
	if err != nil {
		return nil, egress.RedactURL(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("answered %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, remoteKeysMax+1))
	if err != nil {
		return nil, err
	}
	if len(body) > remoteKeysMax {
		return nil, fmt.Errorf("answered more than %d KiB", remoteKeysMax>>10)
	}
	return parseJWKS(string(body))
}

// remoteSetOf is c's published keys, read again when older than
// remoteKeysTTL, or when kid is not among them and the last read is older
// than remoteKeysGap.
func (p *Service) remoteSetOf(ctx context.Context, tenant string, c *Client, kid string) (*jose.JSONWebKeySet, error) {
	s := p.remote.set(tenant + "/" + c.ID)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := p.now()
	stale := s.uri != c.JWKSURI || (s.keys == nil && s.err == nil) || now.Sub(s.fetched) >= remoteKeysTTL || now.Before(s.fetched)
	if !stale && now.Sub(s.fetched) >= remoteKeysGap && (s.err != nil || (kid != "" && findKey(s.keys, kid) == nil)) {
		stale = true // rotated, or back after a failure
	}
	if stale {
		keys, err := p.fetchKeys(ctx, c.JWKSURI)
		switch {
		case err == nil:
			s.keys, s.good = keys, now
		case s.uri == c.JWKSURI && s.keys != nil && now.Sub(s.good) < remoteKeysKeep:
			// Kept; read again after remoteKeysGap, as s.err is set.
		default:
			s.keys = nil
		}
		s.uri, s.fetched, s.err = c.JWKSURI, now, err
		if err != nil {
			p.log.WarnContext(ctx, "openid: read a client's jwks_uri", "tenant", tenant, "client", c.ID, "err", err, "kept_last_keys", s.keys != nil)
		}
	}
	if s.keys == nil {
		return nil, fmt.Errorf("%w could not be read: %v", ErrRemoteKeys, s.err)
	}
	return s.keys, nil
}

// Key is c's public key kid ("" when the client has one key).
func (p *Service) Key(ctx context.Context, tenant string, c *Client, kid string) (*jose.JSONWebKey, error) {
	set := c.keys
	if c.JWKSURI != "" {
		var err error
		if set, err = p.remoteSetOf(ctx, tenant, c, kid); err != nil {
			return nil, err
		}
	}
	if set == nil {
		return nil, errors.New("the client has no keys")
	}
	if k := findKey(set, kid); k != nil {
		return k, nil
	}
	return nil, fmt.Errorf("the client has no key %q", kid)
}

func findKey(set *jose.JSONWebKeySet, kid string) *jose.JSONWebKey {
	for i, k := range set.Keys {
		if k.KeyID == kid || (kid == "" && len(set.Keys) == 1) {
			return &set.Keys[i]
		}
	}
	return nil
}

// ClientKeys lists the public keys of tenant's private_key_jwt client c,
// for its page: those it registered, or those its jwks_uri publishes now.
func (p *Service) ClientKeys(ctx context.Context, actor usher.Actor, tenant usher.Tenant, c usher.Client) ([]ClientKey, error) {
	if err := actor.Require(usher.AdminTenant); err != nil {
		return nil, err
	}
	var set *jose.JSONWebKeySet
	var err error
	switch {
	case c.JWKSURI != "":
		cl := &Client{Client: c}
		set, err = p.remoteSetOf(ctx, tenant.ID, cl, "")
	case c.JWKS != "":
		set, err = parseJWKS(c.JWKS)
	}
	if err != nil || set == nil {
		return nil, err
	}
	return describeKeys(set), nil
}

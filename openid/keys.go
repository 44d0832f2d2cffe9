package openid

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/secret"
	"github.com/usherhq/usher/store"
)

// Signing algorithms. ES256 signs about 25 times faster than RS256 here,
// so it signs access tokens and, by default, ID tokens; RS256 stays for
// clients that need it (id_token_signed_response_alg).
const (
	ES256 = string(jose.ES256)
	RS256 = string(jose.RS256)
)

var algorithms = []string{ES256, RS256}

// keyCacheTTL is how long a replica uses the keys it read before reading
// them again: how long another replica's new key takes to be known here.
// New keys are published KeyLead before they sign, which is much longer.
const keyCacheTTL = 30 * time.Second

// signingKey is a private key able to sign (op.SigningKey).
type signingKey struct {
	id        string
	alg       jose.SignatureAlgorithm
	signsFrom time.Time
	priv      crypto.Signer
	// at signs access tokens, with RFC 9068's "at+jwt" type.
	at jose.Signer
	// logout signs back-channel logout tokens, typed "logout+jwt".
	logout jose.Signer
}

func (k *signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return k.alg }
func (k *signingKey) Key() any                                    { return k.priv }
func (k *signingKey) ID() string                                  { return k.id }

// publicKey is a key of the JWKS (op.Key).
type publicKey struct{ jwk jose.JSONWebKey }

func (k publicKey) ID() string { return k.jwk.KeyID }
func (k publicKey) Algorithm() jose.SignatureAlgorithm {
	return jose.SignatureAlgorithm(k.jwk.Algorithm)
}
func (k publicKey) Use() string { return "sig" }
func (k publicKey) Key() any    { return k.jwk.Key }

func (k *signingKey) signs(now time.Time) bool   { return !k.signsFrom.After(now) }
func (k *signingKey) publicJWK() jose.JSONWebKey { return jwkOf(k.id, string(k.alg), k.priv.Public()) }

func jwkOf(id, alg string, pub crypto.PublicKey) jose.JSONWebKey {
	return jose.JSONWebKey{Key: pub, KeyID: id, Algorithm: alg, Use: "sig"}
}

// keyRing is a tenant's keys as read at one moment.
type keyRing struct {
	read time.Time
	// signers per algorithm, newest first; the one that signs is the
	// newest whose time has come, decided at each signature.
	signers map[string][]*signingKey
	public  []op.Key
}

// signer returns the key of alg that signs at now.
func (r *keyRing) signer(alg string, now time.Time) (*signingKey, error) {
	for _, k := range r.signers[alg] {
		if k.signs(now) {
			return k, nil
		}
	}
	return nil, fmt.Errorf("openid: no %s signing key", alg)
}

// keyCache holds each tenant's keys for keyCacheTTL, and makes and
// rotates them as they fall due.
type keyCache struct {
	p     *Provider
	mu    sync.Mutex
	rings map[string]*keyRing
	// opened keeps private keys already unsealed, by kid.
	opened map[string]*signingKey
	// loading serializes the reading (and making) of one tenant's keys in
	// this process, so a burst of first requests makes one key, not many.
	loading map[string]*sync.Mutex
}

func newKeyCache(p *Provider) *keyCache {
	return &keyCache{p: p, rings: map[string]*keyRing{}, opened: map[string]*signingKey{}, loading: map[string]*sync.Mutex{}}
}

// ring returns tenant's keys, reading them when the cached ones are old,
// and making the first keys or a scheduled successor when due.
func (c *keyCache) ring(ctx context.Context, tenant string) (*keyRing, error) {
	now := c.p.now()
	c.mu.Lock()
	r := c.rings[tenant]
	if r != nil && now.Sub(r.read) < keyCacheTTL && !now.Before(r.read) {
		c.mu.Unlock()
		return r, nil
	}
	l := c.loading[tenant]
	if l == nil {
		l = &sync.Mutex{}
		c.loading[tenant] = l
	}
	c.mu.Unlock()
	l.Lock()
	defer l.Unlock()
	c.mu.Lock()
	if r := c.rings[tenant]; r != nil && now.Sub(r.read) < keyCacheTTL && !now.Before(r.read) {
		c.mu.Unlock()
		return r, nil // another caller read them meanwhile
	}
	c.mu.Unlock()
	r, err := c.load(ctx, tenant, now)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.rings) > 10_000 {
		c.rings = map[string]*keyRing{} // bounded: start over
	}
	c.rings[tenant] = r
	c.mu.Unlock()
	return r, nil
}

// forget drops tenant's cached keys, after a change through this replica.
func (c *keyCache) forget(tenant string) {
	c.mu.Lock()
	delete(c.rings, tenant)
	c.mu.Unlock()
}

func (c *keyCache) load(ctx context.Context, tenant string, now time.Time) (*keyRing, error) {
	keys, err := c.p.st.Read().SigningKeys(ctx, tenant, now)
	if err != nil {
		return nil, err
	}
	if due := c.due(keys, now); len(due) > 0 {
		if err := c.p.makeKeys(ctx, tenant, due, now, false); err != nil {
			return nil, err
		}
		if keys, err = c.p.st.Read().SigningKeys(ctx, tenant, now); err != nil {
			return nil, err
		}
	}
	r := &keyRing{read: now, signers: map[string][]*signingKey{}}
	for _, k := range keys {
		sk, err := c.open(k)
		if err != nil {
			return nil, err
		}
		r.signers[k.Alg] = append(r.signers[k.Alg], sk)
		r.public = append(r.public, publicKey{sk.publicJWK()})
	}
	for alg := range r.signers {
		ks := r.signers[alg]
		sort.SliceStable(ks, func(i, j int) bool { return ks[i].signsFrom.After(ks[j].signsFrom) })
	}
	return r, nil
}

// due lists the algorithms that need a key: none yet, or a signing key
// past its rotation with no successor published.
func (c *keyCache) due(keys []store.SigningKey, now time.Time) []string {
	var out []string
	for _, alg := range algorithms {
		var newest *store.SigningKey
		for i := range keys {
			if keys[i].Alg == alg && (newest == nil || keys[i].SignsFrom.After(newest.SignsFrom)) {
				newest = &keys[i]
			}
		}
		if newest == nil || (!newest.SignsFrom.After(now) && !now.Before(newest.SignsFrom.Add(c.p.cfg.KeyRotation))) {
			out = append(out, alg)
		}
	}
	return out
}

// open unseals a stored key, once per process.
func (c *keyCache) open(k store.SigningKey) (*signingKey, error) {
	c.mu.Lock()
	sk := c.opened[k.ID]
	c.mu.Unlock()
	if sk != nil {
		return sk, nil
	}
	der, err := c.p.box.Open(k.PrivateKey, keyPurpose(k.TenantID, k.ID))
	if err != nil {
		return nil, fmt.Errorf("openid: signing key %s of tenant %s: %w", k.ID, k.TenantID, err)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("openid: signing key %s of tenant %s: %w", k.ID, k.TenantID, err)
	}
	priv, ok := parsed.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("openid: signing key %s of tenant %s is no signer", k.ID, k.TenantID)
	}
	sk, err = newSigningKey(k.ID, k.Alg, k.SignsFrom, priv)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.opened) > 50_000 {
		c.opened = map[string]*signingKey{}
	}
	c.opened[k.ID] = sk
	c.mu.Unlock()
	return sk, nil
}

func newSigningKey(id, alg string, signsFrom time.Time, priv crypto.Signer) (*signingKey, error) {
	at, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: &jose.JSONWebKey{Key: priv, KeyID: id}},
		(&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		return nil, fmt.Errorf("openid: signer for key %s: %w", id, err)
	}
	logout, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: &jose.JSONWebKey{Key: priv, KeyID: id}},
		(&jose.SignerOptions{}).WithType("logout+jwt"))
	if err != nil {
		return nil, fmt.Errorf("openid: logout signer for key %s: %w", id, err)
	}
	return &signingKey{id: id, alg: jose.SignatureAlgorithm(alg), signsFrom: signsFrom, priv: priv, at: at, logout: logout}, nil
}

// Reseal seals anew with box's current key the private keys of signing
// keys sealed with an older one, and returns how many it changed.
func Reseal(ctx context.Context, st *store.Store, box *secret.Box) (int, error) {
	if box == nil {
		return 0, nil
	}
	return st.ResealKept(ctx, []string{"openid_keys"}, func(k store.Kept) (string, bool, error) {
		if !secret.Sealed(k.Value) {
			return k.Value, false, nil // never kept plain: nothing opens it as it is
		}
		return box.Reseal(k.Value, keyPurpose(k.TenantID, k.ID))
	}, func(tx *store.Tx, k store.Kept, v string) (bool, error) { return tx.ResealSigningKey(ctx, k, v) })
}

func keyPurpose(tenant, kid string) string { return "openid-key/" + tenant + "/" + kid }

func newKID() string {
	b := make([]byte, 12)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func generate(alg string) (crypto.Signer, error) {
	switch alg {
	case ES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RS256:
		return rsa.GenerateKey(rand.Reader, 2048)
	}
	return nil, fmt.Errorf("openid: unknown algorithm %q", alg)
}

// makeKeys makes a key of each of algs for tenant. The first key of an
// algorithm signs at once (nothing was signed before it); a successor is
// published now and signs KeyLead later, and its predecessors then stay in
// the JWKS until what they signed has expired. With onDemand, an algorithm
// whose successor is already published gets none.
func (p *Provider) makeKeys(ctx context.Context, tenant string, algs []string, now time.Time, onDemand bool) error {
	type made struct {
		key  store.SigningKey
		priv crypto.Signer
	}
	var news []made
	for _, alg := range algs {
		priv, err := generate(alg)
		if err != nil {
			return err
		}
		der, err := x509.MarshalPKCS8PrivateKey(priv)
		if err != nil {
			return fmt.Errorf("openid: encode %s key: %w", alg, err)
		}
		kid := newKID()
		pub, err := json.Marshal(jwkOf(kid, alg, priv.Public()))
		if err != nil {
			return fmt.Errorf("openid: encode %s public key: %w", alg, err)
		}
		news = append(news, made{key: store.SigningKey{ID: kid, TenantID: tenant, Alg: alg, PublicJWK: string(pub),
			PrivateKey: p.box.Seal(der, keyPurpose(tenant, kid))}, priv: priv})
	}
	return p.st.Write(ctx, func(tx *store.Tx) error {
		// Another replica making keys for this tenant now finishes first;
		// what it made is then read below, and not made again.
		if err := tx.LockSigningKeys(ctx, tenant); err != nil {
			return err
		}
		keys, err := tx.SigningKeys(ctx, tenant, now)
		if err != nil {
			return err
		}
		due := p.keys.due(keys, now)
		for _, m := range news {
			k := m.key
			var live []store.SigningKey
			pending := false
			for _, o := range keys {
				if o.Alg == k.Alg {
					live = append(live, o)
					pending = pending || o.SignsFrom.After(now)
				}
			}
			switch {
			case len(live) == 0:
				k.SignsFrom = now
			case pending && onDemand:
				continue // a successor is published already
			case !onDemand && !slices.Contains(due, k.Alg):
				continue // another replica made it meanwhile
			default:
				k.SignsFrom = now.Add(p.cfg.KeyLead)
				// What the others signed until the successor takes over
				// stays verifiable until it expires.
				for _, o := range live {
					if err := tx.ExpireSigningKey(ctx, tenant, o.ID, k.SignsFrom.Add(MaxTokenTTL+keyCacheTTL)); err != nil {
						return err
					}
				}
			}
			if err := tx.InsertSigningKey(ctx, &k); err != nil {
				return err
			}
		}
		return nil
	})
}

// RotateKeys makes a successor for each of tenant's signing keys now, on
// demand: published at once, signing after the configured lead, with the
// old keys in the JWKS until what they signed has expired. A successor
// already published is kept.
func (p *Provider) RotateKeys(ctx context.Context, actor usher.Actor, tenant usher.Tenant) ([]KeyInfo, error) {
	if err := actor.Require(usher.AdminTenant); err != nil {
		return nil, err
	}
	now := p.now()
	// The first keys exist before they can be rotated.
	if _, err := p.keys.ring(ctx, tenant.ID); err != nil {
		return nil, err
	}
	if err := p.makeKeys(ctx, tenant.ID, algorithms, now, true); err != nil {
		return nil, err
	}
	if err := p.st.Write(ctx, func(tx *store.Tx) error {
		return tx.InsertAudit(ctx, tenant.ID, actor.Event("signing_keys.rotated", "tenant", tenant.ID, nil))
	}); err != nil {
		return nil, err
	}
	p.keys.forget(tenant.ID)
	return p.Keys(ctx, tenant)
}

// KeyInfo describes a signing key for administrators: never its private half.
type KeyInfo struct {
	ID        string     `json:"kid"`
	Alg       string     `json:"alg"`
	CreatedAt time.Time  `json:"created_at"`
	SignsFrom time.Time  `json:"signs_from"`
	Signing   bool       `json:"signing"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// Keys lists tenant's published signing keys, newest first.
func (p *Provider) Keys(ctx context.Context, tenant usher.Tenant) ([]KeyInfo, error) {
	now := p.now()
	r, err := p.keys.ring(ctx, tenant.ID)
	if err != nil {
		return nil, err
	}
	keys, err := p.st.Read().SigningKeys(ctx, tenant.ID, now)
	if err != nil {
		return nil, err
	}
	out := []KeyInfo{}
	for _, k := range keys {
		cur, _ := r.signer(k.Alg, now)
		out = append(out, KeyInfo{ID: k.ID, Alg: k.Alg, CreatedAt: k.CreatedAt, SignsFrom: k.SignsFrom, ExpiresAt: k.ExpiresAt,
			Signing: cur != nil && cur.id == k.ID})
	}
	return out, nil
}

// Package keys owns the OpenID Connect provider's signing keys: one ring
// per tenant and algorithm, made when first needed, sealed at rest with
// the secret box, rotated on schedule or on demand (a successor published
// before it signs), and cached per replica.
package keys

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

// CacheTTL is how long a replica uses the keys it read before reading
// them again: how long another replica's new key takes to be known here.
// New keys are published KeyLead before they sign, which is much longer.
const CacheTTL = 30 * time.Second

// MaxTokenTTL bounds access and ID token lifetimes; a retired key stays
// in the JWKS this long after it last signed.
const MaxTokenTTL = 24 * time.Hour

// SigningKey is a private key able to sign (op.SigningKey).
type SigningKey struct {
	id        string
	alg       jose.SignatureAlgorithm
	signsFrom time.Time
	priv      crypto.Signer
	// At signs access tokens, with RFC 9068's "at+jwt" type.
	At jose.Signer
	// Logout signs back-channel logout tokens, typed "logout+jwt".
	Logout jose.Signer
}

func (k *SigningKey) SignatureAlgorithm() jose.SignatureAlgorithm { return k.alg }
func (k *SigningKey) Key() any                                    { return k.priv }
func (k *SigningKey) ID() string                                  { return k.id }

// publicKey is a key of the JWKS (op.Key).
type publicKey struct{ jwk jose.JSONWebKey }

func (k publicKey) ID() string { return k.jwk.KeyID }
func (k publicKey) Algorithm() jose.SignatureAlgorithm {
	return jose.SignatureAlgorithm(k.jwk.Algorithm)
}
func (k publicKey) Use() string { return "sig" }
func (k publicKey) Key() any    { return k.jwk.Key }

func (k *SigningKey) signs(now time.Time) bool   { return !k.signsFrom.After(now) }
func (k *SigningKey) publicJWK() jose.JSONWebKey { return jwkOf(k.id, string(k.alg), k.priv.Public()) }

func jwkOf(id, alg string, pub crypto.PublicKey) jose.JSONWebKey {
	return jose.JSONWebKey{Key: pub, KeyID: id, Algorithm: alg, Use: "sig"}
}

// Ring is a tenant's keys as read at one moment.
type Ring struct {
	read time.Time
	// signers per algorithm, newest first; the one that signs is the
	// newest whose time has come, decided at each signature.
	signers map[string][]*SigningKey
	// Public are the keys of the JWKS.
	Public []op.Key
}

// Signer returns the key of alg that signs at now.
func (r *Ring) Signer(alg string, now time.Time) (*SigningKey, error) {
	for _, k := range r.signers[alg] {
		if k.signs(now) {
			return k, nil
		}
	}
	return nil, fmt.Errorf("openid: no %s signing key", alg)
}

// Service holds each tenant's keys for CacheTTL, and makes and
// rotates them as they fall due.
type Service struct {
	st  *store.Store
	box *secret.Box
	now func() time.Time
	// rotation is how long a key signs before a successor replaces it;
	// lead, how long a successor is published before it signs.
	rotation, lead time.Duration
	mu             sync.Mutex
	rings          map[string]*Ring
	// opened keeps private keys already unsealed, by kid.
	opened map[string]*SigningKey
	// loading serializes the reading (and making) of one tenant's keys in
	// this process, so a burst of first requests makes one key, not many.
	loading map[string]*sync.Mutex
}

// New returns the keys of every tenant in st, their private halves sealed
// with box, a key signing for rotation after a successor was published
// lead before.
func New(st *store.Store, box *secret.Box, now func() time.Time, rotation, lead time.Duration) *Service {
	return &Service{st: st, box: box, now: now, rotation: rotation, lead: lead, rings: map[string]*Ring{}, opened: map[string]*SigningKey{},
		loading: map[string]*sync.Mutex{}}
}

// Ring returns tenant's keys, reading them when the cached ones are old,
// and making the first keys or a scheduled successor when due.
func (c *Service) Ring(ctx context.Context, tenant string) (*Ring, error) {
	now := c.now()
	c.mu.Lock()
	r := c.rings[tenant]
	if r != nil && now.Sub(r.read) < CacheTTL && !now.Before(r.read) {
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
	if r := c.rings[tenant]; r != nil && now.Sub(r.read) < CacheTTL && !now.Before(r.read) {
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
		c.rings = map[string]*Ring{} // bounded: start over
	}
	c.rings[tenant] = r
	c.mu.Unlock()
	return r, nil
}

// forget drops tenant's cached keys, after a change through this replica.
func (c *Service) forget(tenant string) {
	c.mu.Lock()
	delete(c.rings, tenant)
	c.mu.Unlock()
}

func (c *Service) load(ctx context.Context, tenant string, now time.Time) (*Ring, error) {
	keys, err := c.st.Read().SigningKeys(ctx, tenant, now)
	if err != nil {
		return nil, err
	}
	if due := c.due(keys, now); len(due) > 0 {
		if err := c.makeKeys(ctx, tenant, due, now, false); err != nil {
			return nil, err
		}
		if keys, err = c.st.Read().SigningKeys(ctx, tenant, now); err != nil {
			return nil, err
		}
	}
	r := &Ring{read: now, signers: map[string][]*SigningKey{}}
	for _, k := range keys {
		sk, err := c.open(k)
		if err != nil {
			return nil, err
		}
		r.signers[k.Alg] = append(r.signers[k.Alg], sk)
		r.Public = append(r.Public, publicKey{sk.publicJWK()})
	}
	for alg := range r.signers {
		ks := r.signers[alg]
		sort.SliceStable(ks, func(i, j int) bool { return ks[i].signsFrom.After(ks[j].signsFrom) })
	}
	return r, nil
}

// due lists the algorithms that need a key: none yet, or a signing key
// past its rotation with no successor published.
func (c *Service) due(keys []store.SigningKey, now time.Time) []string {
	var out []string
	for _, alg := range algorithms {
		var newest *store.SigningKey
		for i := range keys {
			if keys[i].Alg == alg && (newest == nil || keys[i].SignsFrom.After(newest.SignsFrom)) {
				newest = &keys[i]
			}
		}
		if newest == nil || (!newest.SignsFrom.After(now) && !now.Before(newest.SignsFrom.Add(c.rotation))) {
			out = append(out, alg)
		}
	}
	return out
}

// open unseals a stored key, once per process.
func (c *Service) open(k store.SigningKey) (*SigningKey, error) {
	c.mu.Lock()
	sk := c.opened[k.ID]
	c.mu.Unlock()
	if sk != nil {
		return sk, nil
	}
	der, err := c.box.Open(k.PrivateKey, keyPurpose(k.TenantID, k.ID))
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
		c.opened = map[string]*SigningKey{}
	}
	c.opened[k.ID] = sk
	c.mu.Unlock()
	return sk, nil
}

func newSigningKey(id, alg string, signsFrom time.Time, priv crypto.Signer) (*SigningKey, error) {
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
	return &SigningKey{id: id, alg: jose.SignatureAlgorithm(alg), signsFrom: signsFrom, priv: priv, At: at, Logout: logout}, nil
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
func (c *Service) makeKeys(ctx context.Context, tenant string, algs []string, now time.Time, onDemand bool) error {
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
			PrivateKey: c.box.Seal(der, keyPurpose(tenant, kid))}, priv: priv})
	}
	return c.st.Write(ctx, func(tx *store.Tx) error {
		// Another replica making keys for this tenant now finishes first;
		// what it made is then read below, and not made again.
		if err := tx.LockSigningKeys(ctx, tenant); err != nil {
			return err
		}
		keys, err := tx.SigningKeys(ctx, tenant, now)
		if err != nil {
			return err
		}
		due := c.due(keys, now)
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
				k.SignsFrom = now.Add(c.lead)
				// What the others signed until the successor takes over
				// stays verifiable until it expires.
				for _, o := range live {
					if err := tx.ExpireSigningKey(ctx, tenant, o.ID, k.SignsFrom.Add(MaxTokenTTL+CacheTTL)); err != nil {
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
func (c *Service) RotateKeys(ctx context.Context, actor usher.Actor, tenant usher.Tenant) ([]KeyInfo, error) {
	if err := actor.Require(usher.AdminTenant); err != nil {
		return nil, err
	}
	now := c.now()
	// The first keys exist before they can be rotated.
	if _, err := c.Ring(ctx, tenant.ID); err != nil {
		return nil, err
	}
	if err := c.makeKeys(ctx, tenant.ID, algorithms, now, true); err != nil {
		return nil, err
	}
	if err := c.st.Write(ctx, func(tx *store.Tx) error {
		return tx.InsertAudit(ctx, tenant.ID, actor.Event("signing_keys.rotated", "tenant", tenant.ID, nil))
	}); err != nil {
		return nil, err
	}
	c.forget(tenant.ID)
	return c.Keys(ctx, tenant)
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
func (c *Service) Keys(ctx context.Context, tenant usher.Tenant) ([]KeyInfo, error) {
	now := c.now()
	r, err := c.Ring(ctx, tenant.ID)
	if err != nil {
		return nil, err
	}
	keys, err := c.st.Read().SigningKeys(ctx, tenant.ID, now)
	if err != nil {
		return nil, err
	}
	out := []KeyInfo{}
	for _, k := range keys {
		cur, _ := r.Signer(k.Alg, now)
		out = append(out, KeyInfo{ID: k.ID, Alg: k.Alg, CreatedAt: k.CreatedAt, SignsFrom: k.SignsFrom, ExpiresAt: k.ExpiresAt,
			Signing: cur != nil && cur.id == k.ID})
	}
	return out, nil
}

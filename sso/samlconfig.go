package sso

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/provision"
)

// A SAML connection's configuration: usher's key and certificate, made
// once per connection, and the identity provider's metadata.

const (
	maxMetadata = 1 << 20   // IdP metadata, pasted or fetched
	maxResponse = 256 << 10 // a SAMLResponse form value, before decoding
	metadataTTL = time.Hour
	// metadataRetry: after a failed refresh the last good copy serves this
	// long before the next try, so a down IdP is not asked at every sign-in.
	metadataRetry = 5 * time.Minute
	// samlSkew is the clock skew usher allows. crewjam allows its
	// package-level MaxClockSkew (180 s); changing that global would race
	// with other goroutines, so it is left alone and usher checks the
	// assertion's times again with this tighter bound.
	samlSkew = 90 * time.Second
)

// metadataCache holds identity providers' SAML metadata fetched from URLs.
type metadataCache struct {
	mu sync.Mutex
	m  map[string]cachedMetadata
}

type cachedMetadata struct {
	ed      *saml.EntityDescriptor
	until   time.Time
	fetched time.Time // of the copy held
}

// metadataStale bounds how long a copy is trusted while its URL cannot be
// read: an identity provider that rotated a compromised certificate away
// must not stay trusted for as long as its metadata is unreachable.
const metadataStale = 24 * time.Hour

func newMetadataCache() *metadataCache { return &metadataCache{m: map[string]cachedMetadata{}} }

// idpMetadata is the connection's identity provider: pasted, or fetched
// from its URL (cached an hour; the last good copy kept if a refresh fails).
func (s *Service) idpMetadata(ctx context.Context, c usher.Connection) (*saml.EntityDescriptor, error) {
	if x := strings.TrimSpace(c.MetadataXML); x != "" {
		ed, err := parseIdPMetadata([]byte(x))
		if err != nil {
			return nil, refused("the identity provider's pasted metadata is not usable", err)
		}
		return ed, nil
	}
	if c.MetadataURL == "" {
		return nil, refused("the connection has no identity provider metadata", nil)
	}
	now := s.now()
	// Per connection and version of it: saving the connection fetches anew.
	key := c.ID + "|" + c.UpdatedAt.Format(time.RFC3339Nano) + "|" + c.MetadataURL
	s.saml.mu.Lock()
	cached, ok := s.saml.m[key]
	s.saml.mu.Unlock()
	if ok && now.Before(cached.until) {
		return cached.ed, nil
	}
	ed, err := s.fetchMetadata(ctx, c.MetadataURL)
	if err != nil {
		if !ok || now.Sub(cached.fetched) > metadataStale {
			return nil, refused("the identity provider's metadata could not be read from "+clip(c.MetadataURL, 200), err)
		}
		ed, cached.until = cached.ed, now.Add(metadataRetry)
	} else {
		cached.until, cached.fetched = now.Add(metadataTTL), now
	}
	cached.ed = ed
	s.saml.mu.Lock()
	for k := range s.saml.m {
		if strings.HasPrefix(k, c.ID+"|") && k != key {
			delete(s.saml.m, k) // an older version of the connection
		}
	}
	s.saml.m[key] = cached
	s.saml.mu.Unlock()
	return ed, nil
}

func (s *Service) fetchMetadata(ctx context.Context, u string) (*saml.EntityDescriptor, error) {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP status %d", resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadata+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxMetadata {
		return nil, errors.New("the metadata is larger than 1 MB")
	}
	return parseIdPMetadata(b)
}

// parseIdPMetadata reads an EntityDescriptor (or an EntitiesDescriptor
// with one identity provider) and checks that usher can sign in with it.
// encoding/xml processes no external entities or DTDs.
func parseIdPMetadata(b []byte) (*saml.EntityDescriptor, error) {
	ed, err := samlsp.ParseMetadata(b)
	if err != nil {
		return nil, fmt.Errorf("is not SAML metadata of one identity provider: %w", err)
	}
	if len(ed.IDPSSODescriptors) == 0 {
		return nil, errors.New("has no IDPSSODescriptor: it is not an identity provider's metadata")
	}
	var sso, cert bool
	for _, d := range ed.IDPSSODescriptors {
		for _, e := range d.SingleSignOnServices {
			sso = sso || (e.Location != "" && (e.Binding == saml.HTTPRedirectBinding || e.Binding == saml.HTTPPostBinding))
		}
		for _, k := range d.KeyDescriptors {
			if k.Use != "" && k.Use != "signing" {
				continue
			}
			for _, xc := range k.KeyInfo.X509Data.X509Certificates {
				der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(xc.Data), ""))
				if err == nil {
					_, err = x509.ParseCertificate(der)
				}
				if err != nil {
					return nil, fmt.Errorf("has a signing certificate that cannot be read: %v", err)
				}
				cert = true
			}
		}
	}
	if !sso {
		return nil, errors.New("has no SingleSignOnService with the HTTP-Redirect or HTTP-POST binding")
	}
	if !cert {
		return nil, errors.New("has no signing certificate")
	}
	return ed, nil
}

// SPKeyPurpose binds a sealed service provider key to its connection
// (provision, which keeps connections, re-seals it under the same purpose).
func SPKeyPurpose(tenantID, connectionID string) string {
	return provision.SPKeyPurpose(tenantID, connectionID)
}

func (s *Service) prepareSAML(ctx context.Context, tenant usher.Tenant, c *usher.Connection) error {
	if x := strings.TrimSpace(c.MetadataXML); x != "" {
		if len(x) > maxMetadata {
			return usher.Invalid("metadata_xml", "is larger than 1 MB")
		}
		if _, err := parseIdPMetadata([]byte(x)); err != nil {
			return usher.Invalid("metadata_xml", "%s", err.Error())
		}
		c.MetadataXML = x
	}
	if c.SPKey != "" && c.SPCertificate != "" {
		return nil // made once: the IdP has this certificate on file
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return err
	}
	name := c.Name
	if name == "" {
		name = c.ID
	}
	now := s.now()
	tpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: clip("usher "+name, 64)},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
	c.SPCertificate = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	c.SPKey = s.box.Keep(string(keyPEM), SPKeyPurpose(c.TenantID, c.ID))
	return nil
}

// spKeys opens the connection's key and certificate.
func (s *Service) spKeys(c usher.Connection) (*rsa.PrivateKey, *x509.Certificate, error) {
	keyPEM, err := s.box.Reveal(c.SPKey, SPKeyPurpose(c.TenantID, c.ID), "connection "+c.ID+"'s SAML key")
	if err != nil {
		return nil, nil, err
	}
	kb, _ := pem.Decode([]byte(keyPEM))
	cb, _ := pem.Decode([]byte(c.SPCertificate))
	if kb == nil || cb == nil {
		return nil, nil, fmt.Errorf("connection %s: no SAML key or certificate: save the connection again", c.ID)
	}
	var key *rsa.PrivateKey
	if k, err := x509.ParsePKCS8PrivateKey(kb.Bytes); err == nil {
		key, _ = k.(*rsa.PrivateKey)
	} else if k, err := x509.ParsePKCS1PrivateKey(kb.Bytes); err == nil {
		key = k
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if key == nil || err != nil {
		return nil, nil, fmt.Errorf("connection %s: its SAML key or certificate cannot be read", c.ID)
	}
	return key, cert, nil
}

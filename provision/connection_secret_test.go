package provision_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/secret"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/store/storetest"
)

// testConnectionSecretSealed: an identity provider's client secret is kept
// sealed with the configured key, bound to its connection, and read back
// only through provision.
func testConnectionSecretSealed(t *testing.T, e *env) {
	box, err := secret.NewBox(bytes.Repeat([]byte{7}, secret.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	e.svc.SealWith(box)
	tn := e.tenant("corp", "")
	in := provision.ConnectionInput{Connection: usher.Connection{Name: "Corp SSO", Protocol: "oidc", Domains: []string{"corp.example"},
		Issuer: "https://login.corp.example", ClientID: "usher", ClientSecret: "s3cret-of-the-idp"}}
	c, err := e.svc.SaveConnection(e.ctx, tenantAdm, tn, "", in)
	if err != nil {
		t.Fatal(err)
	}
	if c.ClientSecret != "" {
		t.Fatal("the answer carries the client secret")
	}
	stored, err := e.st.Read().Connection(e.ctx, tn.ID, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stored.ClientSecret, "s3cret") || !secret.Sealed(stored.ClientSecret) {
		t.Fatalf("kept as %q", stored.ClientSecret)
	}
	if got, err := e.svc.ConnectionSecret(stored); err != nil || got != "s3cret-of-the-idp" {
		t.Fatalf("read back: %q %v", got, err)
	}
	// Saved again without a secret, it keeps the one it had.
	in.ClientSecret, in.Name = "", "Corp"
	if _, err := e.svc.SaveConnection(e.ctx, tenantAdm, tn, c.ID, in); err != nil {
		t.Fatal(err)
	}
	again, _ := e.st.Read().Connection(e.ctx, tn.ID, c.ID)
	if got, err := e.svc.ConnectionSecret(again); err != nil || got != "s3cret-of-the-idp" {
		t.Fatalf("after an update without a secret: %q %v", got, err)
	}
	// Bound to its connection: copied to another, it does not open.
	other := stored
	other.ID = "another-connection"
	if _, err := e.svc.ConnectionSecret(other); err == nil {
		t.Fatal("a sealed secret opened for another connection")
	}
	// A new secret replaces it, sealed too.
	in.ClientSecret = "rotated-secret"
	if _, err := e.svc.SaveConnection(e.ctx, tenantAdm, tn, c.ID, in); err != nil {
		t.Fatal(err)
	}
	again, _ = e.st.Read().Connection(e.ctx, tn.ID, c.ID)
	if got, _ := e.svc.ConnectionSecret(again); got != "rotated-secret" || strings.Contains(again.ClientSecret, "rotated") {
		t.Fatalf("after a new secret: %q kept as %q", got, again.ClientSecret)
	}
}

// testReseal: after a key rotation, the connections' client secrets and
// SAML keys sealed with the old key, or kept plain from before sealing,
// are sealed anew with the new one.
func testReseal(t *testing.T, e *env) {
	keyA, keyB := bytes.Repeat([]byte{7}, secret.KeySize), bytes.Repeat([]byte{8}, secret.KeySize)
	boxA, _ := secret.NewBox(keyA)
	boxB, _ := secret.NewBox(keyB)
	rotated, _ := secret.NewBox(keyB, keyA)
	tn := e.tenant("corp", "")
	want := map[string]string{}
	for i, box := range []*secret.Box{nil, boxA} { // plain from before sealing, then sealed with A
		e.svc.SealWith(box)
		in := provision.ConnectionInput{Connection: usher.Connection{Name: "SSO " + string(rune('A'+i)), Protocol: "oidc",
			Domains: []string{string(rune('a'+i)) + ".example"}, Issuer: "https://login.corp.example", ClientID: "usher", ClientSecret: "secret-" + string(rune('a'+i))}}
		c, err := e.svc.SaveConnection(e.ctx, tenantAdm, tn, "", in)
		if err != nil {
			t.Fatal(err)
		}
		want["connections/"+c.ID+"/client_secret"] = "secret-" + string(rune('a'+i))
		if box != nil { // a SAML key, as sso keeps it
			err := e.st.Write(e.ctx, func(tx *store.Tx) error {
				c, err := tx.Connection(e.ctx, tn.ID, c.ID)
				if err != nil {
					return err
				}
				c.SPKey = boxA.Keep("sp key", provision.SPKeyPurpose(tn.ID, c.ID))
				return tx.UpdateConnection(e.ctx, tn.ID, &c)
			})
			if err != nil {
				t.Fatal(err)
			}
			want["connections/"+c.ID+"/sp_key"] = "sp key"
		}
	}
	storetest.Reseal(t, e.st, []string{"connections"}, want, boxB,
		func() (int, error) { return provision.Reseal(e.ctx, e.st, rotated) },
		func(k store.Kept) string {
			if k.Field == "sp_key" {
				return provision.SPKeyPurpose(k.TenantID, k.ID)
			}
			return provision.ConnectionSecretPurpose(k.TenantID, k.ID)
		},
		func(tx *store.Tx, k store.Kept, v string) (bool, error) {
			return tx.ResealConnectionSecret(e.ctx, k, v)
		})
}

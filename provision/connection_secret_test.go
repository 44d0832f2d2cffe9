package provision_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/secret"
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

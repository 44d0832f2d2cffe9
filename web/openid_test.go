package web

import (
	"bytes"
	"strings"
	"testing"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/openid"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/secret"
	"github.com/usherhq/usher/signin"
	"github.com/usherhq/usher/store"
)

// testOpenID is the OpenID Connect provider of a test server, as cmd/usher
// builds it. Its own tests are in package openid.
func testOpenID(t testing.TB, st *store.Store, svc *provision.Service, auth *signin.Service, links Links) *openid.Provider {
	t.Helper()
	box, err := secret.NewBox(bytes.Repeat([]byte{7}, secret.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	oid, err := openid.New(openid.Deps{Store: st, Box: box, Provision: svc, Signin: auth,
		Issuer: func(tn usher.Tenant) string { return strings.TrimSuffix(links.TenantBase(tn), "/") }})
	if err != nil {
		t.Fatal(err)
	}
	return oid
}

package main

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/openid"
	"github.com/usherhq/usher/openid/clients"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/secret"
	"github.com/usherhq/usher/signin"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/web"
)

// newOpenID builds the OpenID Connect provider: a tenant's issuer is its
// address (https://<slug>.<base domain>, or <public URL>/t/<slug>), and
// its signing keys are sealed with box; outbound (the guarded egress
// client) reads the keys clients publish at their jwks_uri and posts logout
// tokens to their back-channel logout URIs.
func newOpenID(log *slog.Logger, st *store.Store, box *secret.Box, links web.Links, svc *provision.Service, auth *signin.Service, cfg openid.Config,
	outbound *http.Client) (*openid.Provider, error) {
	return openid.New(openid.Deps{Log: log, Store: st, Box: box, Provision: svc, Signin: auth, Config: cfg, HTTP: outbound,
		Issuer: func(tn usher.Tenant) string { return strings.TrimSuffix(links.TenantBase(tn), "/") }})
}

// The demo tenant's example product: examples/relyingparty, run on
// localhost:9090.
const (
	demoClientName = "Example product (examples/relyingparty)"
	demoRPAddr     = "localhost:9090"
)

// demoClient makes sure the demo tenant has the example product's client
// and gives it a fresh secret at every start, printed like the demo
// administrator's one-time password (a secret is shown only once).
func demoClient(ctx context.Context, oid *openid.Provider, st *store.Store) (usher.Client, string, error) {
	tn, err := st.Read().TenantBySlug(ctx, "demo")
	if err != nil {
		return usher.Client{}, "", err
	}
	op := usher.Actor{Kind: usher.ActorSystem, ID: "demo-seed", Role: usher.PrincipalOperator}
	list, _, err := oid.Clients().Clients(ctx, op, tn, true, store.ListOptions{Limit: 500})
	if err != nil {
		return usher.Client{}, "", err
	}
	// The example product ends its session when usher's does (back-channel
	// logout; the default run allows loopback addresses).
	backchannel := "http://" + demoRPAddr + "/backchannel-logout"
	for _, c := range list {
		if c.Name == demoClientName {
			in := clients.ClientInput{RotateSecret: true}
			if c.BackchannelLogoutURI == "" {
				in.BackchannelLogoutURI = &backchannel
			}
			rotated, err := oid.Clients().UpdateClient(ctx, op, tn, c.ID, in)
			return rotated.Client, rotated.ClientSecret, err
		}
	}
	name := demoClientName
	c, err := oid.Clients().CreateClient(ctx, op, tn, clients.ClientInput{Name: &name, Type: usher.ClientConfidential,
		RedirectURIs:           []string{"http://" + demoRPAddr + "/callback"},
		PostLogoutRedirectURIs: []string{"http://" + demoRPAddr + "/"}, BackchannelLogoutURI: &backchannel})
	return c.Client, c.ClientSecret, err
}

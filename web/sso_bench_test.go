package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/catalog"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/signin"
	"github.com/usherhq/usher/store"
)

// The figures of sign-in through a connection (BENCHMARKS.md): what usher
// does once the identity provider has answered (the directory's part and
// the session), with and without just-in-time creation, at 8 concurrent
// callers; and OpenID Connect's whole callback against Dex, whose token
// endpoint is part of it.

// benchSSO is a tenant with a plan of n seats as its default and a
// connection with just-in-time creation owning bench.example.
func benchSSO(b *testing.B, st *store.Store, seats int) (*provision.Service, *signin.Service, usher.Tenant, usher.Connection) {
	ctx := context.Background()
	svc := provision.New(st, nil, Links{PublicURL: "http://localhost"})
	tn, err := svc.CreateTenant(ctx, opActor, provision.TenantInput{Slug: "bench", Name: "Bench"})
	if err != nil {
		b.Fatal(err)
	}
	name := "Load"
	p, err := catalog.New(st, svc).CreatePlan(ctx, opActor, tn, catalog.PlanInput{Key: "load", Name: &name, Seats: &seats})
	if err != nil {
		b.Fatal(err)
	}
	set := tn.Settings
	set.DefaultPlanID = p.ID
	if tn, err = svc.UpdateTenant(ctx, opActor, tn.ID, provision.TenantUpdate{Settings: &set}); err != nil {
		b.Fatal(err)
	}
	c, err := svc.SaveConnection(ctx, opActor, tn, "", provision.ConnectionInput{Connection: usher.Connection{Name: "Bench IdP", Protocol: "oidc",
		Domains: []string{"bench.example"}, Issuer: "https://idp.bench.example", ClientID: "usher", JIT: true}})
	if err != nil {
		b.Fatal(err)
	}
	return svc, signin.New(st, svc, time.Now), tn, c
}

// BenchmarkSSOSignIn: a known person's sign-in once the identity provider
// answered: the account by subject, and a session.
func BenchmarkSSOSignIn(b *testing.B) {
	for name, open := range benchDatabases() {
		b.Run(name, func(b *testing.B) {
			st := open(b, nil)
			svc, auth, tn, c := benchSSO(b, st, 1000)
			ctx := context.Background()
			const people = 200
			for i := range people {
				u := provision.SSOUser{Subject: fmt.Sprint("sub-", i), Email: fmt.Sprintf("p%d@bench.example", i), FirstName: "B", LastName: "M"}
				if _, err := svc.SignInThrough(ctx, tn, provision.SSOSignIn{Connection: c, User: u}); err != nil {
					b.Fatal(err)
				}
			}
			var n atomic.Int64
			b.SetParallelism(4) // 8 callers on 2 cores
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1) % people
					u := provision.SSOUser{Subject: fmt.Sprint("sub-", i), Email: fmt.Sprintf("p%d@bench.example", i), FirstName: "B", LastName: "M"}
					res, err := svc.SignInThrough(ctx, tn, provision.SSOSignIn{Connection: c, User: u})
					if err == nil {
						_, err = auth.StartSSO(ctx, tn, res.Account, "192.0.2.1", "bench", "")
					}
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "signins/s")
		})
	}
}

// BenchmarkSSOJustInTime: a new person's first sign-in: person, account,
// seat, audit, subject, identity and session.
func BenchmarkSSOJustInTime(b *testing.B) {
	for name, open := range benchDatabases() {
		b.Run(name, func(b *testing.B) {
			st := open(b, nil)
			svc, auth, tn, c := benchSSO(b, st, b.N+10)
			ctx := context.Background()
			var n atomic.Int64
			b.SetParallelism(4)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					u := provision.SSOUser{Subject: fmt.Sprint("new-", i), Email: fmt.Sprintf("n%d@bench.example", i), FirstName: "N", LastName: "P"}
					res, err := svc.SignInThrough(ctx, tn, provision.SSOSignIn{Connection: c, User: u})
					if err == nil {
						_, err = auth.StartSSO(ctx, tn, res.Account, "192.0.2.1", "bench", "")
					}
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creations/s")
		})
	}
}

// BenchmarkOIDCCallback: OpenID Connect's callback to a session through
// usher's HTTP server (state, code exchange at Dex's token endpoint, ID
// token verification, the directory, the session), one at a time; Dex's
// sign-in form before each is outside the timer, its token endpoint inside.
func BenchmarkOIDCCallback(b *testing.B) {
	for name, open := range benchDatabases() {
		b.Run(name, func(b *testing.B) {
			sw := newSigninWorld(b, open)
			w := newSSOWorld(b, sw, func(c *usher.Connection) { c.JIT = true })
			ctx := context.Background()
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				jar, _ := cookiejar.New(nil)
				client := &http.Client{Jar: jar}
				back, err := w.dex.LoginAt(ctx, client, w.url+"/t/acme/sso/"+w.conn.ID+"/start", "wizard@example.com", "pw-wizard")
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				resp, err := client.Get(back.String())
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("callback: %d", resp.StatusCode)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "callbacks/s")
		})
	}
}

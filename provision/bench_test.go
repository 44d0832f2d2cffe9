package provision_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/catalog"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/store/storetest"
)

// cpuTime is the user and system CPU time of this process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type links struct{}

func (links) Activation(t usher.Tenant, s string) string {
	return "http://localhost/t/" + t.Slug + "/activate#" + s
}
func (links) SignIn(t usher.Tenant) string { return "http://localhost/t/" + t.Slug + "/" }

// benchTenant makes a tenant on st with a plan of seats.
func benchTenant(b *testing.B, st *store.Store, seats int) (*provision.Service, usher.Actor, usher.Tenant, usher.Plan) {
	ctx := context.Background()
	svc := provision.New(st, nil, links{})
	op := usher.Actor{Kind: "operator", ID: "bench", Role: usher.PrincipalOperator}
	tn, err := svc.CreateTenant(ctx, op, provision.TenantInput{Slug: "bench", Name: "Bench"})
	if err != nil {
		b.Fatal(err)
	}
	name := "Load"
	p, err := catalog.New(st, svc).CreatePlan(ctx, op, tn, catalog.PlanInput{Key: "load", Name: &name, Seats: &seats})
	if err != nil {
		b.Fatal(err)
	}
	return svc, op, tn, p
}

// BenchmarkCreateAccount measures the provisioning path without HTTP: one
// new person and account per operation, with seat, activation, audit event
// and message, at 8 concurrent callers.
func BenchmarkCreateAccount(b *testing.B) {
	for _, db := range []struct {
		name string
		open func(testing.TB) *store.Store
	}{
		{"sqlite", func(t testing.TB) *store.Store { return storetest.OpenSQLite(t, nil) }},
		{"postgres", func(t testing.TB) *store.Store { return storetest.OpenPostgres(t, nil) }},
	} {
		b.Run(db.name, func(b *testing.B) {
			ctx := context.Background()
			svc, op, tn, p := benchTenant(b, db.open(b), b.N+10)
			var n atomic.Int64
			b.SetParallelism(4) // 8 callers on 2 cores
			cpu0 := cpuTime()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					_, err := svc.CreateAccount(ctx, op, tn, provision.AccountInput{Route: provision.RouteNewUser, PlanID: p.ID,
						Person: &provision.PersonInput{FirstName: "B", LastName: "M", Email: fmt.Sprintf("u%d@bench.example", i)}})
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "accounts/s")
			// CPU of this process (not of PostgreSQL): steadier than
			// throughput on a shared machine.
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}

// BenchmarkCreateAccounts measures the bulk path an import takes: batches
// of bulkRows new people and accounts through CreateAccounts, each with its
// seat, invitation, audit event and message, reported as rows per second.
func BenchmarkCreateAccounts(b *testing.B) {
	const bulkRows = 250
	for _, db := range []struct {
		name string
		open func(testing.TB) *store.Store
	}{
		{"sqlite", func(t testing.TB) *store.Store { return storetest.OpenSQLite(t, nil) }},
		{"postgres", func(t testing.TB) *store.Store { return storetest.OpenPostgres(t, nil) }},
	} {
		b.Run(db.name, func(b *testing.B) {
			ctx := context.Background()
			svc, op, tn, p := benchTenant(b, db.open(b), b.N*bulkRows+10)
			by := usher.Actor{Kind: usher.ActorImport, ID: "bench", Source: op.Source}
			n := 0
			cpu0 := cpuTime()
			b.ResetTimer()
			for range b.N {
				in := make([]provision.AccountInput, bulkRows)
				for i := range in {
					n++
					in[i] = provision.AccountInput{Route: provision.RouteImport, PlanID: p.ID,
						Person: &provision.PersonInput{FirstName: "B", LastName: "M", Email: fmt.Sprintf("u%d@bench.example", n)}}
				}
				for i, r := range svc.CreateAccounts(ctx, by, tn, in) {
					if r.Err != nil {
						b.Fatalf("row %d: %v", i, r.Err)
					}
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "rows/s")
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(n), "cpu-µs/row")
		})
	}
}

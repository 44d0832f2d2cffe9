package scim_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/store/storetest"
)

// BenchmarkSCIM measures a user's creation and a lookup by userName
// through the SCIM server, on SQLite (PostgreSQL with
// USHER_TEST_POSTGRES_URL and -bench Postgres).
func BenchmarkSCIM(b *testing.B) {
	for _, db := range []struct {
		name string
		open func(testing.TB) *store.Store
	}{
		{"SQLite", func(t testing.TB) *store.Store { return storetest.OpenSQLite(t, nil) }},
		{"Postgres", func(t testing.TB) *store.Store { return storetest.OpenPostgres(t, nil) }},
	} {
		b.Run(db.name, func(b *testing.B) {
			e := newEnv(b, db.open)
			big := e.newPlan(e.tn, "big", 200_000)
			e.setSettings(func(s *usher.TenantSettings) { s.DefaultPlanID = big.ID })
			var n atomic.Int64
			b.Run("Create", func(b *testing.B) {
				b.SetParallelism(4)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						i := n.Add(1)
						r := e.do("POST", "/Users", entraUser(fmt.Sprintf("b%d@acme.example", i), "Bench", fmt.Sprint(i)))
						if r.Status != 201 {
							b.Fatalf("%d %s", r.Status, r.Body)
						}
					}
				})
			})
			b.Run("Lookup", func(b *testing.B) {
				b.RunParallel(func(pb *testing.PB) {
					i := int64(0)
					for pb.Next() {
						i = i%n.Load() + 1
						r := e.do("GET", fmt.Sprintf(`/Users?filter=userName eq "b%d@acme.example"`, i), nil)
						if r.Status != 200 {
							b.Fatalf("%d %s", r.Status, r.Body)
						}
					}
				})
			})
		})
	}
}

package store_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/catalog"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/store/storetest"
)

// A seat claim on a plan whose seats were all just added reads the first
// free seat from an index, on both databases: it neither sorts nor scans
// the plan's free seats. On PostgreSQL without statistics for the new
// seats (autovacuum off, or not yet run) the claim sorted every free seat
// of a 1,000,000-seat plan, ≈ 120 ms a claim, 25 creations/s.
func TestSeatClaimPlanOnAFreshLargePlan(t *testing.T) {
	for _, db := range []struct {
		name string
		open func(testing.TB, func() time.Time) *store.Store
	}{{"sqlite", storetest.OpenSQLite}, {"postgres", storetest.OpenPostgres}} {
		t.Run(db.name, func(t *testing.T) {
			if db.name == "postgres" && storetest.PostgresURL() == "" {
				t.Skip("USHER_TEST_POSTGRES_URL is not set")
			}
			st := db.open(t, nil)
			ctx := context.Background()
			op := usher.Actor{Kind: usher.ActorOperator, ID: "op", Role: usher.PrincipalOperator}
			svc := provision.New(st, nil, storetest.Links{})
			tn, err := svc.CreateTenant(ctx, op, provision.TenantInput{Slug: "seats", Name: "Seats"})
			if err != nil {
				t.Fatal(err)
			}
			// A fresh database: plan_seats has never been analyzed, as where
			// autovacuum is off or has not run yet.
			big, many := "big", 50_000
			p, err := catalog.New(st, svc).CreatePlan(ctx, op, tn, catalog.PlanInput{Key: "big", Name: &big, Seats: &many})
			if err != nil {
				t.Fatal(err)
			}
			explain := "EXPLAIN "
			if st.Dialect() != store.Postgres {
				explain = "EXPLAIN QUERY PLAN "
			}
			text := strings.Join(queryPlan(t, st, explain+store.ClaimSeatSQL(st.Dialect()), tn.ID, p.ID, "account", 0.5), "\n")
			for _, bad := range []string{"Sort", "Seq Scan", "TEMP B-TREE", "SCAN plan_seats"} {
				if strings.Contains(text, bad) {
					t.Fatalf("the claim's plan on a fresh plan of %d seats has %q:\n%s", many, bad, text)
				}
			}
			if st.Dialect() != store.Postgres {
				return
			}
			// What keeps it so at any size: PostgreSQL knows the new seats
			// are there. (Without, it took a 1,000,000-seat plan for 7 free
			// seats and sorted them all.)
			var est string
			err = st.Write(ctx, func(tx *store.Tx) error {
				return tx.QueryRowContext(ctx, "EXPLAIN SELECT seat_no FROM plan_seats WHERE plan_id = $1 AND account_id IS NULL", p.ID).Scan(&est)
			})
			if err != nil {
				t.Fatal(err)
			}
			_, rows, _ := strings.Cut(est, "rows=")
			rows, _, _ = strings.Cut(rows, " ")
			if n, err := strconv.Atoi(rows); err != nil || n < many/2 {
				t.Fatalf("PostgreSQL expects %s free seats in a new plan of %d: %s", rows, many, est)
			}
		})
	}
}

// The reads of SCIM's users and of OpenID Connect's subjects go from the
// accounts asked for to their persons by key, and a lookup by email
// through indexes, on SQLite, whose planner,
// left to choose, read every person of the tenant through
// persons(tenant_id, …) for each lookup or token: seconds a lookup in a
// tenant of 50,000.
func TestPersonJoinPlans(t *testing.T) {
	st := storetest.OpenSQLite(t, nil)
	for _, q := range store.PersonJoinSQL(st.Dialect()) {
		plan := queryPlan(t, st, "EXPLAIN QUERY PLAN "+q, "tenant", "value", "id")
		text := strings.Join(plan, "\n")
		if !strings.Contains(text, "SEARCH p USING") {
			t.Errorf("plan of\n%s\n:\n%s", q, text)
		}
		for _, line := range plan {
			// A table scanned, or searched by its tenant alone, is read
			// whole for one account (x is the contact roles' own rows).
			if (strings.HasPrefix(line, "SCAN ") && line != "SCAN x") || strings.HasSuffix(line, "(tenant_id=?)") {
				t.Errorf("%q in the plan of\n%s\n:\n%s", line, q, text)
			}
		}
	}
}

// queryPlan runs an EXPLAIN statement (EXPLAIN QUERY PLAN on SQLite) and
// returns its lines.
func queryPlan(t *testing.T, st *store.Store, explain string, args ...any) []string {
	t.Helper()
	ctx := context.Background()
	var plan []string
	err := st.Write(ctx, func(tx *store.Tx) error {
		rows, err := tx.QueryContext(ctx, explain, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var line string
			var id, parent, unused int
			if st.Dialect() == store.Postgres {
				err = rows.Scan(&line)
			} else {
				err = rows.Scan(&id, &parent, &unused, &line)
			}
			if err != nil {
				return err
			}
			plan = append(plan, line)
		}
		return rows.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

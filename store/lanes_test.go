package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/catalog"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/store/storetest"
)

// Grouped writes stuck behind a lock end with their callers: a group whose
// callers have all given up is cancelled, a write still queued behind busy
// lanes withdraws, and the lanes and connections are sound afterwards.
func TestGroupedWritesEndWithTheirCallers(t *testing.T) {
	if storetest.PostgresURL() == "" {
		t.Skip("USHER_TEST_POSTGRES_URL is not set")
	}
	st := storetest.OpenPostgres(t, nil)
	bg := context.Background()
	lock := func(ctx context.Context, tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, "SELECT pg_advisory_xact_lock(4242)")
		return err
	}
	held, release := make(chan struct{}), make(chan struct{})
	holder := make(chan error, 1)
	go func() {
		holder <- st.Write(bg, func(tx *store.Tx) error {
			if err := lock(bg, tx); err != nil {
				return err
			}
			close(held)
			<-release
			return nil
		})
	}()
	<-held

	type outcome struct {
		err     error
		elapsed time.Duration
	}
	blocked := func(d time.Duration) chan outcome {
		out := make(chan outcome, 1)
		go func() {
			ctx, cancel := context.WithTimeout(bg, d)
			defer cancel()
			start := time.Now()
			err := st.WriteGrouped(ctx, func(tx *store.Tx) error { return lock(ctx, tx) })
			out <- outcome{err, time.Since(start)}
		}()
		return out
	}
	// Two writes that wait for the lock fill both lanes...
	a := blocked(time.Second)
	time.Sleep(100 * time.Millisecond)
	b := blocked(time.Second)
	time.Sleep(100 * time.Millisecond)
	// ...so this one stays queued, and leaves when its caller does.
	c := blocked(200 * time.Millisecond)
	if got := <-c; !errors.Is(got.err, context.DeadlineExceeded) || got.elapsed > 800*time.Millisecond {
		t.Fatalf("a queued write whose caller gave up: %v after %v", got.err, got.elapsed)
	}
	for name, ch := range map[string]chan outcome{"first": a, "second": b} {
		if got := <-ch; got.err == nil || got.elapsed > 2500*time.Millisecond {
			t.Fatalf("the %s write stuck behind the lock: %v after %v", name, got.err, got.elapsed)
		}
	}
	close(release)
	if err := <-holder; err != nil {
		t.Fatalf("the lock's holder: %v", err)
	}
	// The lanes work again, and no connection was left in a transaction.
	for i := range 4 {
		if err := st.WriteGrouped(bg, func(tx *store.Tx) error { return lock(bg, tx) }); err != nil {
			t.Fatalf("write %d after: %v", i, err)
		}
	}
	var stuck int
	if err := st.Read().QueryRowContext(bg, `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = current_setting('application_name')
		AND state LIKE 'idle in transaction%'`).Scan(&stuck); err != nil || stuck != 0 {
		t.Fatalf("%d connections idle in a transaction (%v)", stuck, err)
	}
}

// A write after Close is refused, not a panic.
func TestGroupedWriteAfterClose(t *testing.T) {
	if storetest.PostgresURL() == "" {
		t.Skip("USHER_TEST_POSTGRES_URL is not set")
	}
	st := storetest.OpenPostgres(t, nil)
	st.Close()
	if err := st.WriteGrouped(context.Background(), func(*store.Tx) error { return nil }); err == nil {
		t.Fatal("a write after Close succeeded")
	}
}

// Groups whose statements went with their COMMIT and failed (conflicts
// between their own creations) are rolled back: every creation gets one
// answer, and no connection is left in a transaction.
func TestFailedGroupsLeaveNoTransactionOpen(t *testing.T) {
	if storetest.PostgresURL() == "" {
		t.Skip("USHER_TEST_POSTGRES_URL is not set")
	}
	st := storetest.OpenPostgres(t, nil)
	ctx := context.Background()
	svc := provision.New(st, nil, storetest.Links{})
	op := usher.Actor{Kind: "token", Role: usher.PrincipalOperator}
	tn, err := svc.CreateTenant(ctx, op, provision.TenantInput{Slug: "acme", Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	seats := 100
	p, err := catalog.New(st, svc).CreatePlan(ctx, op, tn, catalog.PlanInput{Key: "std", Name: &tn.Name, Seats: &seats})
	if err != nil {
		t.Fatal(err)
	}
	for round := range 5 {
		var wg sync.WaitGroup
		var mu sync.Mutex
		created, conflicts := 0, 0
		for i := range 12 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// Pairs of creations take the same email.
				email := fmt.Sprintf("r%d-%d@example.com", round, i/2)
				_, err := svc.CreateAccount(ctx, op, tn, provision.AccountInput{Route: provision.RouteNewUser, PlanID: p.ID,
					Person: &provision.PersonInput{FirstName: "P", LastName: "Q", Email: email}})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					created++
				case errors.Is(err, usher.ErrConflict):
					conflicts++
				default:
					t.Errorf("creation: %v", err)
				}
			}()
		}
		wg.Wait()
		if created != 6 || conflicts != 6 {
			t.Fatalf("round %d: %d created, %d conflicts; want 6 and 6", round, created, conflicts)
		}
	}
	var stuck int
	if err := st.Read().QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = current_setting('application_name')
		AND state LIKE 'idle in transaction%'`).Scan(&stuck); err != nil || stuck != 0 {
		t.Fatalf("%d connections idle in a transaction (%v)", stuck, err)
	}
	if _, rerun := st.GroupStats(); rerun == 0 {
		t.Fatal("no group failed: the test did not exercise failed groups")
	}
}

// WriterStats counts the writes its writers commit, once, whether a
// group's COMMIT goes apart or with its statements, and not the writes
// that fail, on both databases.
func TestWriterStats(t *testing.T) {
	for _, db := range []struct {
		name string
		open func(testing.TB) *store.Store
		skip bool
	}{
		{"sqlite", func(t testing.TB) *store.Store { return storetest.OpenSQLite(t, nil) }, false},
		{"postgres", func(t testing.TB) *store.Store { return storetest.OpenPostgres(t, nil) }, storetest.PostgresURL() == ""},
	} {
		t.Run(db.name, func(t *testing.T) {
			if db.skip {
				t.Skip("USHER_TEST_POSTGRES_URL is not set")
			}
			st := db.open(t)
			ctx := context.Background()
			refused := errors.New("refused")
			// round runs 40 grouped writes of fn at once (storetest.Race)
			// and returns what the writers counted meanwhile and how many
			// succeeded.
			round := func(fn func(i int, tx *store.Tx) error) (store.WriterStats, int) {
				before := st.WriterStats()
				ok, _ := storetest.Race(t, 40, refused, func(i int) error {
					return st.WriteGrouped(ctx, func(tx *store.Tx) error { return fn(i, tx) })
				})
				after := st.WriterStats()
				return store.WriterStats{Batches: after.Batches - before.Batches, Writes: after.Writes - before.Writes,
					Busy: after.Busy - before.Busy, Commit: after.Commit - before.Commit}, ok
			}
			update := func(i int, tx *store.Tx) error {
				_, err := tx.ExecContext(ctx, "UPDATE tenants SET name = name WHERE id = $1", fmt.Sprint("none-", i))
				return err
			}

			// An update is not sent with the COMMIT: on PostgreSQL the
			// COMMIT goes apart, and its time is counted.
			got, ok := round(update)
			if ok != 40 || got.Writes != 40 || got.Batches < 1 || got.Batches > 40 || got.Busy <= 0 || got.Commit <= 0 {
				t.Errorf("updates: %d succeeded, counted %+v", ok, got)
			}
			if db.name == "sqlite" && got.Commit > got.Busy {
				t.Errorf("SQLite's COMMIT (%v) is part of its busy time (%v)", got.Commit, got.Busy)
			}

			// Inserts go with the COMMIT on PostgreSQL, as creations do.
			got, ok = round(func(i int, tx *store.Tx) error {
				return tx.InsertAudit(ctx, "stats", &usher.AuditEvent{ActorKind: "test", Action: "writer.stats", TargetID: fmt.Sprint(i)})
			})
			if ok != 40 || got.Writes != 40 || got.Batches < 1 || got.Busy <= 0 {
				t.Errorf("inserts: %d succeeded, counted %+v", ok, got)
			}

			// A fifth are refused. SQLite commits the others in their
			// batches; PostgreSQL runs a failed group's writes again alone,
			// outside the lanes, and does not count them.
			got, ok = round(func(i int, tx *store.Tx) error {
				if err := update(i, tx); err != nil || i%5 != 0 {
					return err
				}
				return refused
			})
			if ok != 32 || got.Writes > 32 || (db.name == "sqlite" && got.Writes != 32) {
				t.Errorf("with refusals: %d succeeded, counted %+v", ok, got)
			}
		})
	}
}

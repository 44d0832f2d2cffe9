package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

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
		WHERE datname = current_database() AND state LIKE 'idle in transaction%'`).Scan(&stuck); err != nil || stuck != 0 {
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

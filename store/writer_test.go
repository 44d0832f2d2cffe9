package store_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/store/storetest"
)

// SQLite's writer runs the writes queued together in one transaction
// without savepoints: a write that fails after it wrote, or panics, makes
// the writes before it run again with a savepoint each. Every caller still
// gets its own outcome, a failed write leaves nothing and runs once, and
// the others commit.
func TestSQLiteBatchWithFailuresCommitsTheOthers(t *testing.T) {
	st := storetest.OpenSQLite(t, nil)
	ctx := context.Background()
	if err := st.Write(ctx, func(tx *store.Tx) error {
		_, err := tx.ExecContext(ctx, `CREATE TABLE scratch (k TEXT PRIMARY KEY)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	insert := func(tx *store.Tx, k string) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO scratch (k) VALUES ($1)`, k)
		return err
	}
	refused := errors.New("refused after writing")
	for round := range 3 {
		// A first write holds the writer until the others are queued, so
		// they run as one batch after it.
		hold, held := make(chan struct{}), make(chan struct{})
		first := make(chan error, 1)
		var firstRuns atomic.Int32
		go func() {
			first <- st.Write(ctx, func(tx *store.Tx) error {
				firstRuns.Add(1)
				select {
				case <-held:
				default:
					close(held)
				}
				<-hold
				return insert(tx, fmt.Sprintf("r%d-first", round))
			})
		}()
		<-held
		const n = 24
		var calls [n]atomic.Int32
		errs := make([]error, n)
		panics := make([]any, n)
		// One write's caller gives up while it waits in the queue.
		cancelled, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { panics[i] = recover() }()
				wctx := ctx
				if i == 20 {
					wctx = cancelled
				}
				errs[i] = st.Write(wctx, func(tx *store.Tx) error {
					calls[i].Add(1)
					if err := insert(tx, fmt.Sprintf("r%d-%d", round, i)); err != nil {
						return err
					}
					switch {
					case i%7 == 3:
						return refused
					case i == 13:
						panic("broken write")
					}
					return nil
				})
			}()
		}
		// The writes are queued when every goroutine is blocked on the writer.
		waitQueued(t, st, n)
		cancel()
		close(hold)
		wg.Wait()
		if err := <-first; err != nil {
			t.Fatalf("round %d: first write: %v", round, err)
		}
		var want []string
		want = append(want, fmt.Sprintf("r%d-first", round))
		for i := range n {
			switch {
			case i == 20:
				if !errors.Is(errs[i], context.Canceled) {
					t.Errorf("round %d: write %d: %v, want its context's end", round, i, errs[i])
				}
			case i%7 == 3:
				if !errors.Is(errs[i], refused) || calls[i].Load() != 1 {
					t.Errorf("round %d: write %d: %v after %d runs, want its own error after one", round, i, errs[i], calls[i].Load())
				}
			case i == 13:
				if panics[i] != "broken write" || calls[i].Load() != 1 {
					t.Errorf("round %d: write %d: panic %v after %d runs, want its own after one", round, i, panics[i], calls[i].Load())
				}
			default:
				if errs[i] != nil || panics[i] != nil {
					t.Errorf("round %d: write %d: %v %v", round, i, errs[i], panics[i])
				}
				want = append(want, fmt.Sprintf("r%d-%d", round, i))
			}
		}
		var got []string
		rows, err := st.Read().QueryContext(ctx, `SELECT k FROM scratch WHERE k LIKE $1`, fmt.Sprintf("r%d-%%", round))
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				t.Fatal(err)
			}
			got = append(got, k)
		}
		rows.Close()
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("round %d: committed %v\nwant %v", round, got, want)
		}
		// The writes before the first failure ran a second time, in savepoints.
		total := int(firstRuns.Load())
		for i := range n {
			total += int(calls[i].Load())
		}
		if total <= n {
			t.Fatalf("round %d: %d runs of %d writes: the batch never ran again", round, total, n)
		}
	}
}

// waitQueued waits until n writes wait for st's writer.
func waitQueued(t *testing.T, st *store.Store, n int) {
	t.Helper()
	for range 5000 {
		if st.QueuedWrites() >= n {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("%d writes queued, want %d", st.QueuedWrites(), n)
}

// WriteMany's writes on SQLite queue their statements outside the writer
// when they can; a write that reads, or runs a statement at once (even one
// whose error it ignores), makes the batch run in the writer's
// transaction instead. Either way every write is done, and a refused one
// fails alone.
func TestWriteManyOutsideAndInsideTheWriter(t *testing.T) {
	opens := map[string]func(testing.TB, func() time.Time) *store.Store{"SQLite": storetest.OpenSQLite}
	if storetest.PostgresURL() != "" {
		opens["PostgreSQL"] = storetest.OpenPostgres
	}
	for name, open := range opens {
		t.Run(name, func(t *testing.T) {
			st := open(t, nil)
			ctx := context.Background()
			audit := func(tx *store.Tx, target string) error {
				return tx.InsertAudit(ctx, "t1", &usher.AuditEvent{ActorKind: "token", Action: "test.written", TargetKind: "thing", TargetID: target})
			}
			count := func(prefix string) int {
				var n int
				if err := st.Read().QueryRowContext(ctx, `SELECT count(*) FROM audit_events WHERE target_id LIKE $1`, prefix+"%").Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			refused := errors.New("refused")
			cases := []struct {
				name string
				odd  func(tx *store.Tx, target string) error
			}{
				{"queued", audit},
				{"reads", func(tx *store.Tx, target string) error {
					var n int
					if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM audit_events`).Scan(&n); err != nil {
						return err
					}
					return audit(tx, target)
				}},
				{"ignores", func(tx *store.Tx, target string) error {
					_, _ = tx.ExecContext(ctx, `INSERT INTO audit_events (id, tenant_id, at, actor_kind, action, target_kind, target_id)
						VALUES ($1, 't1', $2, 'token', 'test.direct', 'thing', $3)`, store.NewID(), tx.Now(), target+"-direct")
					return audit(tx, target)
				}},
			}
			for _, c := range cases {
				var fns []func(*store.Tx) error
				for i := range 40 {
					target := fmt.Sprintf("%s-%02d", c.name, i)
					switch {
					case i == 17:
						fns = append(fns, func(tx *store.Tx) error {
							if err := audit(tx, target); err != nil {
								return err
							}
							return refused
						})
					case i%10 == 5:
						fns = append(fns, func(tx *store.Tx) error { return c.odd(tx, target) })
					default:
						fns = append(fns, func(tx *store.Tx) error { return audit(tx, target) })
					}
				}
				errs := st.WriteMany(ctx, fns)
				for i, err := range errs {
					if i == 17 && !errors.Is(err, refused) || i != 17 && err != nil {
						t.Fatalf("%s: write %d: %v", c.name, i, err)
					}
				}
				want := 39
				if c.name == "ignores" {
					want += 4 // the statements whose errors were ignored ran in the transaction
				}
				if got := count(c.name + "-"); got != want {
					t.Fatalf("%s: %d events written, want %d", c.name, got, want)
				}
			}
		})
	}
}

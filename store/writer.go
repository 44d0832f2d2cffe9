package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// SQLite has one writer at a time, and most of a small transaction's cost
// is its commit: writing the changed pages to the WAL. So concurrent writes
// are queued to one goroutine that runs whatever is waiting in a single
// transaction, each write in its own savepoint: a write that fails is rolled
// back alone, the others commit together, and no caller hears of success
// before the commit. Under load this turns N commits into one; alone, a
// write runs at once.

const maxBatch = 64

// linger is how long the writer waits for a batch to grow.
const linger = 250 * time.Microsecond

// checkpointEvery is how often the WAL is copied into the database file.
const checkpointEvery = 50 * time.Millisecond

type writeReq struct {
	ctx  context.Context
	fn   func(*Tx) error
	done chan writeResult
}

type writeResult struct {
	err   error
	panic any
}

func (s *Store) groupWrite(ctx context.Context, fn func(*Tx) error) error {
	req := writeReq{ctx: ctx, fn: fn, done: make(chan writeResult, 1)}
	select {
	case s.queue <- req:
	case <-ctx.Done():
		return ctx.Err()
	}
	// Wait for the outcome even if ctx ends: the write may already be committed.
	res := <-req.done
	if res.panic != nil {
		panic(res.panic)
	}
	return res.err
}

func (s *Store) writer() {
	defer close(s.stopped)
	prev := 0
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for req := range s.queue {
		batch := []writeReq{req}
	drain:
		for len(batch) < maxBatch {
			select {
			case r, ok := <-s.queue:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		// With several writers about, wait a moment for as many as last
		// time: a commit costs about the same for one write as for eight.
		// Batches grow as writers queue up and shrink when they go.
		if prev > 1 && len(batch) < prev {
			timer.Reset(linger)
		wait:
			for len(batch) < prev {
				select {
				case r, ok := <-s.queue:
					if !ok {
						break wait
					}
					batch = append(batch, r)
				case <-timer.C:
					break wait
				}
			}
			timer.Stop()
		}
		prev = len(batch)
		s.runBatch(batch)
	}
}

func (s *Store) runBatch(batch []writeReq) {
	results := make([]writeResult, len(batch))
	finish := func() {
		for i, req := range batch {
			req.done <- results[i]
		}
	}
	defer finish()
	ctx := context.Background()
	sqlTx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		for i := range results {
			results[i].err = fmt.Errorf("begin: %w", err)
		}
		return
	}
	// A write alone needs no savepoint: if it fails, the transaction is
	// rolled back.
	single := len(batch) == 1
	ptx := &Tx{q: sqlTx, tx: sqlTx, s: s, dialect: s.dialect} // prepared savepoint statements
	committed := 0
	for i, req := range batch {
		if err := req.ctx.Err(); err != nil {
			results[i].err = err
			continue
		}
		if !single {
			if _, err := ptx.ExecContext(ctx, "SAVEPOINT w"); err != nil {
				results[i].err = fmt.Errorf("savepoint: %w", err)
				continue
			}
		}
		results[i] = s.runOne(req, sqlTx)
		if results[i].err != nil || results[i].panic != nil {
			if single {
				break
			}
			if _, err := ptx.ExecContext(ctx, "ROLLBACK TO w"); err != nil {
				// The transaction is unusable: fail the whole batch.
				sqlTx.Rollback()
				for j := range results {
					if results[j].err == nil && results[j].panic == nil {
						results[j].err = fmt.Errorf("rollback to savepoint: %w", err)
					}
				}
				return
			}
		} else {
			committed++
		}
		if !single {
			if _, err := ptx.ExecContext(ctx, "RELEASE w"); err != nil {
				results[i].err = fmt.Errorf("release savepoint: %w", err)
			}
		}
	}
	if committed == 0 {
		sqlTx.Rollback()
		return
	}
	if err := sqlTx.Commit(); err != nil {
		for i := range results {
			if results[i].err == nil && results[i].panic == nil {
				results[i].err = fmt.Errorf("commit: %w", err)
			}
		}
		return
	}
	s.commits.Add(1)
}

// checkpointer copies the WAL into the database file from its own
// connection, so the writer seldom stops for it: when the writer's automatic
// checkpoint comes, little is left to copy, and the WAL starts over. (With
// checkpoints only from here the WAL would never start over under steady
// writes, and grow without end.)
func (s *Store) checkpointer(ckpt *sql.DB) {
	defer close(s.ckptDone)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-s.ckptStop:
			return
		case <-t.C:
			if s.commits.Swap(0) > 0 {
				// PASSIVE never waits for readers or the writer; what it
				// cannot copy now it copies next time.
				_, _ = ckpt.Exec("PRAGMA wal_checkpoint(PASSIVE)")
			}
		}
	}
}

func (s *Store) runOne(req writeReq, sqlTx *sql.Tx) (res writeResult) {
	defer func() {
		if p := recover(); p != nil {
			res = writeResult{panic: p}
		}
	}()
	return writeResult{err: req.fn(&Tx{q: sqlTx, tx: sqlTx, s: s, dialect: s.dialect, now: s.stamp()})}
}

package store

import (
	"context"
	"database/sql"
	"fmt"
	"sync/atomic"
	"time"
)

// SQLite has one writer at a time, and most of a small transaction's cost
// is its commit: writing the changed pages to the WAL. So concurrent writes
// are queued to one goroutine that runs them in a single transaction as they
// come: a write that fails is rolled back alone (runBatch), the others
// commit together, and no caller hears of success before the commit. Under
// load this turns N commits into one; alone, a write runs and commits at once.

const maxBatch = 64

// linger is how long the writer waits for the next write while its batch
// is smaller than the last one: the writes of a busy moment then share a
// commit instead of each paying for its own.
const linger = 250 * time.Microsecond

// checkpointEvery is how often the WAL is copied into the database file.
const checkpointEvery = 50 * time.Millisecond

type writeReq struct {
	ctx  context.Context
	fn   func(*Tx) error
	done chan writeResult
	// alone: a write of many rows (WriteMany's) has a transaction of its
	// own. Joined with others, a transaction dirtied more pages than
	// SQLite's page cache holds, which it then spilled to the WAL midway.
	alone bool
	// state, for PostgreSQL's lanes: queued, taken by a lane, or withdrawn
	// by a caller whose context ended while it was still queued.
	state *atomic.Int32
}

const (
	reqQueued int32 = iota
	reqTaken
	reqWithdrawn
)

type writeResult struct {
	err   error
	panic any
}

func (s *Store) groupWrite(ctx context.Context, fn func(*Tx) error) error {
	return s.queueWrite(writeReq{ctx: ctx, fn: fn, done: make(chan writeResult, 1)})
}

func (s *Store) queueWrite(req writeReq) error {
	ctx := req.ctx
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
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	prev := 0
	for {
		req, ok := s.held, true
		s.held = nil
		if req == nil {
			var r writeReq
			if r, ok = <-s.queue; !ok {
				return
			}
			req = &r
		}
		n := s.runBatch(*req, prev, timer)
		if !req.alone {
			// A batch of many rows says nothing of how many small writes
			// come together.
			prev = n
		}
	}
}

// runBatch runs first and the writes that come while it works, up to the
// size of the previous batch (or more if they are already queued), in one
// transaction. It returns how many it ran.
func (s *Store) runBatch(first writeReq, prev int, timer *time.Timer) int {
	batch := []writeReq{first}
	results := []writeResult{{}}
	// The writer's work: busy from the batch's start to its COMMIT's end,
	// less the waits for more writes (an idle writer, not a bound).
	start := time.Now()
	var commit, waited time.Duration
	committed := 0
	defer func() {
		s.work.add(committed, time.Since(start)-waited, commit)
		for i, req := range batch {
			req.done <- results[i]
		}
	}()
	// next returns the next write of this batch, if one comes in time.
	// A write that must be alone, or that comes after one, is held for
	// the next batch.
	next := func() (writeReq, bool) {
		if len(batch) >= maxBatch || first.alone {
			return writeReq{}, false
		}
		take := func(r writeReq, ok bool) (writeReq, bool) {
			if ok && r.alone {
				s.held = &r
				return writeReq{}, false
			}
			return r, ok
		}
		select {
		case r, ok := <-s.queue:
			return take(r, ok)
		default:
		}
		if len(batch) >= prev {
			return writeReq{}, false
		}
		timer.Reset(linger)
		defer timer.Stop()
		waitStart := time.Now()
		defer func() { waited += time.Since(waitStart) }()
		select {
		case r, ok := <-s.queue:
			return take(r, ok)
		case <-timer.C:
			return writeReq{}, false
		}
	}
	ctx := context.Background()
	sqlTx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		results[0].err = fmt.Errorf("begin: %w", err)
		return 1
	}
	// The writes run one after the other with nothing between them: a
	// savepoint each would make SQLite copy every page a write changes
	// first (its statement journal), a fifth of the writer's time in an
	// import. When a write fails, the transaction is rolled back and the
	// writes before it run again, each in its own savepoint, as do the
	// writes that join the batch after that; the failed one keeps its
	// outcome and does not run again.
	saved := false
	for i := 0; ; i++ {
		switch {
		case saved:
			if err := s.runSaved(batch[i], sqlTx, &results[i]); err != nil {
				sqlTx.Rollback()
				failAll(results, err)
				return len(batch)
			}
		case s.runPlain(batch[i], sqlTx, &results[i]):
			// Done, or refused before it ran (its context ended).
		case i == 0:
			// The first write failed: the batch ends with it.
			sqlTx.Rollback()
			return 1
		default:
			sqlTx.Rollback()
			if sqlTx, err = s.w.BeginTx(ctx, nil); err != nil {
				failAll(results, fmt.Errorf("begin: %w", err))
				return len(batch)
			}
			saved = true
			for j := range i {
				results[j] = writeResult{}
				if err := s.runSaved(batch[j], sqlTx, &results[j]); err != nil {
					sqlTx.Rollback()
					failAll(results, err)
					return len(batch)
				}
			}
		}
		r, ok := next()
		if !ok {
			break
		}
		batch, results = append(batch, r), append(results, writeResult{})
	}
	ok := 0
	for _, r := range results {
		if r.err == nil && r.panic == nil {
			ok++
		}
	}
	if ok == 0 {
		sqlTx.Rollback()
		return len(batch)
	}
	commitStart := time.Now()
	err = sqlTx.Commit()
	commit = time.Since(commitStart)
	if err != nil {
		failAll(results, fmt.Errorf("commit: %w", err))
		return len(batch)
	}
	committed = ok
	s.commits.Add(1)
	return len(batch)
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
	opt := time.NewTicker(optimizeFirst) // then every optimizeEvery
	defer opt.Stop()
	for {
		select {
		case <-s.ckptStop:
			return
		case <-opt.C:
			opt.Reset(optimizeEvery)
			_ = s.Optimize(context.Background()) // the next hour tries again
		case <-t.C:
			if s.commits.Swap(0) > 0 {
				// PASSIVE never waits for readers or the writer; what it
				// cannot copy now it copies next time.
				_, _ = ckpt.Exec("PRAGMA wal_checkpoint(PASSIVE)")
			}
		}
	}
}

// runPlain runs req in sqlTx, its result in res, and reports whether it
// succeeded or did not run (its context had ended); a write that failed may
// have left changes in sqlTx.
func (s *Store) runPlain(req writeReq, sqlTx *sql.Tx, res *writeResult) bool {
	if err := req.ctx.Err(); err != nil {
		res.err = err
		return true
	}
	*res = s.runOne(req, sqlTx)
	return res.err == nil && res.panic == nil
}

// runSaved runs req in a savepoint of sqlTx, rolled back if it fails, its
// result in res. An error is the transaction's: it can go no further.
func (s *Store) runSaved(req writeReq, sqlTx *sql.Tx, res *writeResult) error {
	if err := req.ctx.Err(); err != nil {
		res.err = err
		return nil
	}
	ctx := context.Background()
	if _, err := sqlTx.ExecContext(ctx, "SAVEPOINT w"); err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	*res = s.runOne(req, sqlTx)
	if res.err != nil || res.panic != nil {
		if _, err := sqlTx.ExecContext(ctx, "ROLLBACK TO w"); err != nil {
			return fmt.Errorf("rollback to savepoint: %w", err)
		}
	}
	if _, err := sqlTx.ExecContext(ctx, "RELEASE w"); err != nil {
		return fmt.Errorf("release savepoint: %w", err)
	}
	return nil
}

// failAll gives err to every write of a batch that had not failed.
func failAll(results []writeResult, err error) {
	for i := range results {
		if results[i].err == nil && results[i].panic == nil {
			results[i].err = err
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

// optimizeFirst is when SQLite's planner statistics are first brought up to
// date after the store opens, optimizeEvery how often then, as SQLite
// advises for long-lived connections.
const (
	optimizeFirst = time.Minute
	optimizeEvery = time.Hour
)

// Optimize brings SQLite's planner statistics up to date (PRAGMA optimize)
// for the tables whose size changed much since they were last analyzed,
// reading at most a few hundred entries of each index. Without statistics
// the planner guesses, and a guess once read every person of a tenant for
// one lookup (store/sources.go). It runs as a write, between others. On
// PostgreSQL it does nothing: its own ANALYZE keeps the statistics.
func (s *Store) Optimize(ctx context.Context) error {
	if s.dialect != SQLite {
		return nil
	}
	return s.groupWrite(ctx, func(tx *Tx) error {
		if _, err := tx.ExecContext(ctx, "PRAGMA analysis_limit=400"); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, "PRAGMA optimize=0x10002")
		return err
	})
}

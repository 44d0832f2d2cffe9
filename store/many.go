package store

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"sync"
)

// WriteMany runs many independent writes, such as the rows of an import,
// in one transaction where it can: each table's inserts of all of them
// become one statement (on SQLite as on PostgreSQL's lanes), and they share
// one commit. It returns each write's outcome in order. When the batch
// fails, it is split in halves that run again, down to single writes, so a
// refused write fails alone and holds none of the others back. As with
// Write, fn may run more than once and must change nothing outside its
// transaction except what it returns; it must not hold the transaction for
// long (no password hashing inside).
func (s *Store) WriteMany(ctx context.Context, fns []func(*Tx) error) []error {
	errs := make([]error, len(fns))
	s.writeMany(ctx, fns, errs)
	return errs
}

func (s *Store) writeMany(ctx context.Context, fns []func(*Tx) error, errs []error) {
	switch len(fns) {
	case 0:
		return
	case 1:
		errs[0] = s.WriteGrouped(ctx, fns[0])
		return
	}
	err := s.writeJoined(ctx, fns)
	if err == nil {
		return
	}
	if errors.Is(err, errCommit) || ctx.Err() != nil {
		// Committed or not, unknown; or no time left: running them again
		// could repeat them, or would fail the same way.
		for i := range errs {
			errs[i] = err
		}
		return
	}
	s.splits.Add(1)
	half := len(fns) / 2
	s.writeMany(ctx, fns[:half], errs[:half])
	s.writeMany(ctx, fns[half:], errs[half:])
}

// writeJoined runs fns in one transaction with their statements joined.
func (s *Store) writeJoined(ctx context.Context, fns []func(*Tx) error) error {
	if s.queue != nil {
		fn, err := s.joinedWrite(ctx, fns)
		if err != nil {
			return err
		}
		return s.queueWrite(writeReq{ctx: ctx, done: make(chan writeResult, 1), alone: true, fn: fn})
	}
	reqs := make([]writeReq, len(fns))
	for i, fn := range fns {
		reqs[i] = writeReq{ctx: ctx, fn: fn}
	}
	res, _ := s.pgRun(ctx, reqs)
	if res.panic != nil {
		panic(res.panic)
	}
	return res.err
}

// joinedWrite returns the write that runs fns with their statements joined
// on SQLite. When fns only queue statements, as a batch of creations does,
// they run here, on the caller's goroutine, and so does the making of the
// joined statements: SQLite's one writer then only runs them (a tenth of
// its time in an import went to building them), and their checks. When a
// write needs the transaction (it reads, or its statement must run at
// once), all run in it. The recorded writes are stamped with the time they
// were recorded. An error is a write's refusal while recorded: nothing ran.
func (s *Store) joinedWrite(ctx context.Context, fns []func(*Tx) error) (func(*Tx) error, error) {
	inTx := func(tx *Tx) error {
		tx.mq = &merger{merging: true}
		defer func() { tx.mq = nil }()
		for _, fn := range fns {
			tx.mq.last = 0 // a write's first statement may join any queued one
			if err := fn(tx); err != nil {
				return err
			}
		}
		return tx.flushMerged(ctx)
	}
	rec := &Tx{s: s, dialect: s.dialect, now: s.stamp(), mq: &merger{merging: true}, recording: true}
	for _, fn := range fns {
		rec.mq.last = 0
		err := fn(rec)
		if rec.needsTx {
			return inTx, nil
		}
		if err != nil {
			// The batch fails as it would have in the writer, and is split.
			return nil, err
		}
	}
	stmts := buildMerged(rec.mq.queued)
	return func(tx *Tx) error {
		// The statements' checks may query (a seat claim short of seats
		// asks why): they do so in the writer's transaction.
		rec.recording, rec.q, rec.tx, rec.mq = false, tx.q, tx.tx, nil
		return rec.runBuilt(ctx, stmts)
	}, nil
}

// errNeedsTx is what a statement run at once returns while a batch's
// writes are being recorded outside the writer (joinedWrite).
var errNeedsTx = errors.New("store: this write needs its transaction")

// builtStmt is a statement WriteMany queued on SQLite, ready to run: its
// text and arguments, and the queued writes whose outcome it checks.
type builtStmt struct {
	query  string
	args   []any
	joined bool
	q      *queuedExec
}

// buildMerged makes the statements of queued, in order.
func buildMerged(queued []queuedExec) []builtStmt {
	out := make([]builtStmt, len(queued))
	for i := range queued {
		q := &queued[i]
		// SQLite's own form of a joined statement, without building
		// PostgreSQL's first (a long text for nothing).
		if len(q.parts) > 1 && q.join.sqlite != nil {
			out[i].query, out[i].args = q.join.sqlite(q.partArgs())
		} else {
			out[i].query, out[i].args = q.statement()
		}
		out[i].joined, out[i].q = len(q.parts) > 1, q
	}
	return out
}

// flushMerged runs the statements WriteMany queued on SQLite, in order,
// before a statement that must run now, and at the end of the batch.
func (t *Tx) flushMerged(ctx context.Context) error {
	if t.mq == nil || len(t.mq.queued) == 0 {
		return nil
	}
	queued := t.mq.queued
	t.mq.queued, t.mq.last = nil, 0
	return t.runBuilt(ctx, buildMerged(queued))
}

// runBuilt runs stmts in t, in order, and checks each one's outcome.
func (t *Tx) runBuilt(ctx context.Context, stmts []builtStmt) error {
	for _, b := range stmts {
		var n int64
		var res sql.Result
		var err error
		if ps := t.s.joined.stmt(ctx, t.s.w, b.query, b.joined); ps != nil {
			res, err = t.tx.StmtContext(ctx, ps).ExecContext(ctx, b.args...)
		} else {
			res, err = t.tx.ExecContext(ctx, b.query, b.args...)
		}
		if err == nil {
			n, _ = res.RowsAffected()
		}
		if err := b.q.checkResult(n, err); err != nil {
			return err
		}
	}
	return nil
}

// joinedStmts keeps the statements WriteMany joined on SQLite prepared,
// the most recently used: an import's batches repeat a few long texts,
// each as costly to parse as a batch's rows. Only the writer uses them.
type joinedStmts struct {
	mu    sync.Mutex
	m     map[string]*joinedStmt
	clock uint64
}

type joinedStmt struct {
	ps   *sql.Stmt
	used uint64 // the clock at its last use
}

// maxJoinedStmts bounds the prepared joined statements. A steady import
// writes about nine tables, each with a text or a few: which columns all
// of a batch's rows share (sqliteInsert) may differ between batches.
const maxJoinedStmts = 48

// stmt returns query prepared on db, or nil when it is not joined or
// cannot be prepared (the plain call then reports why).
func (c *joinedStmts) stmt(ctx context.Context, db *sql.DB, query string, joined bool) *sql.Stmt {
	if !joined {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clock++
	if e, ok := c.m[query]; ok {
		e.used = c.clock
		return e.ps
	}
	ps, err := db.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	if c.m == nil {
		c.m = map[string]*joinedStmt{}
	}
	if len(c.m) >= maxJoinedStmts {
		var oldest string
		var last *joinedStmt
		for q, e := range c.m {
			if last == nil || e.used < last.used {
				oldest, last = q, e
			}
		}
		last.ps.Close()
		delete(c.m, oldest)
	}
	c.m[query] = &joinedStmt{ps: ps, used: c.clock}
	return ps
}

// claimSeatsSQLite is claimSeats for SQLite, which writes one at a time:
// the first free seats of the plan, one for each joined claim's account.
// Its parameters are anonymous (joiner.sqlite).
func claimSeatsSQLite(parts [][]any) (string, []any) {
	tenant, plan := parts[0][0], parts[0][1]
	args := []any{tenant, plan, plan}
	want := make([]string, len(parts))
	for i, a := range parts {
		want[i] = "(?," + strconv.Itoa(i+1) + ")"
		args = append(args, a[2])
	}
	args = append(args, plan)
	return `WITH free AS (SELECT seat_no FROM plan_seats
		WHERE tenant_id = ? AND plan_id = ? AND account_id IS NULL
		AND NOT EXISTS (SELECT 1 FROM plans p WHERE p.id = ? AND p.deactivated_at IS NOT NULL)
		ORDER BY seat_no LIMIT ` + strconv.Itoa(len(parts)) + `),
	numbered AS (SELECT seat_no, row_number() OVER (ORDER BY seat_no) AS n FROM free),
	want(account, n) AS (VALUES ` + strings.Join(want, ",") + `)
	UPDATE plan_seats SET account_id = want.account
	FROM numbered JOIN want ON want.n = numbered.n
	WHERE plan_seats.plan_id = ? AND plan_seats.seat_no = numbered.seat_no`, args
}

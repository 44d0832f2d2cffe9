package store

import (
	"context"
	"errors"
	"strconv"
	"strings"
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
	half := len(fns) / 2
	s.writeMany(ctx, fns[:half], errs[:half])
	s.writeMany(ctx, fns[half:], errs[half:])
}

// writeJoined runs fns in one transaction with their statements joined.
func (s *Store) writeJoined(ctx context.Context, fns []func(*Tx) error) error {
	if s.queue != nil {
		return s.groupWrite(ctx, func(tx *Tx) error {
			tx.mq = &merger{merging: true}
			defer func() { tx.mq = nil }()
			for _, fn := range fns {
				tx.mq.last = 0 // a write's first statement may join any queued one
				if err := fn(tx); err != nil {
					return err
				}
			}
			return tx.flushMerged(ctx)
		})
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

// flushMerged runs the statements WriteMany queued on SQLite, in order,
// before a statement that must run now, and at the end of the batch.
func (t *Tx) flushMerged(ctx context.Context) error {
	if t.mq == nil || len(t.mq.queued) == 0 {
		return nil
	}
	queued := t.mq.queued
	t.mq.queued, t.mq.last = nil, 0
	for i := range queued {
		q := &queued[i]
		query, args := q.statement()
		if len(q.parts) > 1 && q.join.sqlite != nil {
			query, args = q.join.sqlite(q.partArgs())
		}
		var n int64
		res, err := t.tx.ExecContext(ctx, query, args...)
		if err == nil {
			n, _ = res.RowsAffected()
		}
		if err := q.checkResult(n, err); err != nil {
			return err
		}
	}
	return nil
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

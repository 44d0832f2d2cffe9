package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// pgTx is a PostgreSQL write transaction run on the pgx connection under
// database/sql, so that statements can be pipelined: statements queued with
// Tx.execThen go to the server together with the next statement whose
// result is needed, BEGIN included. A new account's seven statements make
// one round trip, and its commit a second, instead of nine.
type pgTx struct {
	c     *pgx.Conn
	begun bool
	// generic: the transaction runs generic plans only (a lane's group).
	generic bool
	merger
	// committed: the statements went with the COMMIT, which succeeded
	// (sendWithCommit).
	committed bool
}

// merger holds a write transaction's queued statements: on PostgreSQL
// until the next round trip, on SQLite during WriteMany.
type merger struct {
	queued []queuedExec
	// merging is set while the transaction runs a group of writes: an
	// insert of rows then joins an equal one queued by an earlier write,
	// so a group of creations makes seven statements, not seven each.
	merging bool
	// last is where the running write's latest statement is queued. A
	// write's insert only joins one queued there or later, so its
	// statements keep their order.
	last int
}

type queuedExec struct {
	query string
	args  []any
	check func(n int64, err error) error
	// join, when set, lets the same statement of later writes of a group
	// join this one: one statement then does the work of all of them.
	join *joiner
	// rows is what the statement affects when it does what it should.
	rows int
	// parts are the joined writes' arguments, rows and checks.
	parts []joinPart
	// nargs counts the arguments of every part.
	nargs int
}

// joiner makes one statement of the parts of several writes whose
// statements have the same key.
type joiner struct {
	key   string
	build func(args [][]any) (string, []any)
	// strict builds the statement so that it fails unless it affects
	// every row it should: a group whose statements are all strict sends
	// them with its COMMIT (pgTx.sendWithCommit), as no check of their
	// results is left to make in Go.
	strict func(args [][]any) (string, []any)
	// sqlite builds the statement for SQLite (WriteMany), with anonymous
	// parameters, or numbered ones only for the first row's (sqliteInsert):
	// SQLite looks numbered ones up one by one, which made a joined
	// statement's preparing grow with the square of its rows when each
	// row's had numbers of their own.
	sqlite func(args [][]any) (string, []any)
	// insert, for an insert of rows (insertThen), makes its own text
	// when it is not joined: most of a batch's are, and their numbered
	// texts would be made for nothing.
	insert *insertShape
}

// insertShape is an insert's head, tail and row width (insertSQL).
type insertShape struct {
	head, tail string
	width      int
}

type joinPart struct {
	args  []any
	rows  int
	check func(n int64, err error) error
}

// errJoined fails a group whose joined statement did not affect every row
// it should have (a conflict, perhaps between two writes of the group, or
// too few free seats after the random start): each write then runs again
// alone, where its own checks decide.
var errJoined = errors.New("a joined statement affected fewer rows than its writes")

// maxJoinArgs bounds a joined statement's parameters, below SQLite's limit
// (32,766) and PostgreSQL's (65,535).
const maxJoinArgs = 30_000

// queue adds a statement, joining it to an equal one when it can.
func (p *merger) queue(q queuedExec) {
	if q.join != nil && p.merging {
		for i := max(p.last, 0); i < len(p.queued); i++ {
			e := &p.queued[i]
			if e.join == nil || e.join.key != q.join.key || e.nargs+len(q.args) > maxJoinArgs {
				continue
			}
			if len(e.parts) == 0 {
				e.parts = []joinPart{{args: e.args, rows: e.rows, check: e.check}}
			}
			e.parts = append(e.parts, joinPart{args: q.args, rows: q.rows, check: q.check})
			e.nargs += len(q.args)
			p.last = i
			return
		}
	}
	q.nargs = len(q.args)
	p.queued = append(p.queued, q)
	p.last = len(p.queued) - 1
}

// partArgs are the joined parts' arguments.
func (q *queuedExec) partArgs() [][]any {
	args := make([][]any, len(q.parts))
	for i, part := range q.parts {
		args[i] = part.args
	}
	return args
}

// statement returns the statement to send and its arguments.
func (q *queuedExec) statement() (string, []any) {
	if len(q.parts) < 2 {
		if q.query == "" && q.join != nil && q.join.insert != nil {
			in := q.join.insert
			q.query = insertSQL(in.head, in.tail, in.width, len(q.args)/in.width)
		}
		return q.query, q.args
	}
	args := make([][]any, len(q.parts))
	for i, part := range q.parts {
		args[i] = part.args
	}
	return q.join.build(args)
}

// checkResult runs the checks of q on its outcome.
func (q *queuedExec) checkResult(n int64, err error) error {
	if len(q.parts) < 2 {
		return q.check(n, err)
	}
	want := 0
	for _, part := range q.parts {
		want += part.rows
	}
	if err != nil || n != int64(want) {
		return errors.Join(errJoined, err)
	}
	for _, part := range q.parts {
		if err := part.check(int64(part.rows), nil); err != nil {
			return err
		}
	}
	return nil
}

// strictStatement is q as its joiner's strict statement.
func (q *queuedExec) strictStatement() (string, []any) {
	parts := q.parts
	if len(parts) == 0 {
		parts = []joinPart{{args: q.args}}
	}
	args := make([][]any, len(parts))
	for i, part := range parts {
		args[i] = part.args
	}
	return q.join.strict(args)
}

// strict reports whether every queued statement can be sent strict.
func (p *pgTx) strict() bool {
	for _, q := range p.queued {
		if q.join == nil || q.join.strict == nil {
			return false
		}
	}
	return len(p.queued) > 0
}

// sendWithCommit sends the queued statements, strict, and COMMIT in one
// round trip. (PostgreSQL answers at the batch's end, so this waits for the
// commit.) It sets p.committed when the COMMIT succeeded. When the server
// refused a statement, it skipped the rest, COMMIT included: the error is
// errJoined's, and p.begun tells whether the failed transaction is to be
// rolled back. Any other failure (the connection, a cancelled context)
// leaves the outcome unknown: the error is errCommit's, and the connection
// is not given back.
func (p *pgTx) sendWithCommit(ctx context.Context) error {
	b := &pgx.Batch{}
	if !p.begun {
		p.queueBegin(b)
	}
	for _, q := range p.queued {
		query, args := q.strictStatement()
		b.Queue(query, args...)
	}
	b.Queue("COMMIT")
	p.queued, p.last = nil, 0
	br := p.c.SendBatch(ctx, b)
	var first error
	at := -1
	for i := range b.Len() {
		if _, err := br.Exec(); err != nil && first == nil {
			first, at = err, i
		}
	}
	if err := br.Close(); err != nil && first == nil {
		first, at = err, b.Len()-1
	}
	if first == nil {
		p.begun, p.committed = false, true
		return nil
	}
	var pgErr *pgconn.PgError
	if at < b.Len()-1 && errors.As(first, &pgErr) && !p.c.PgConn().IsClosed() {
		p.begun = p.c.PgConn().TxStatus() != 'I'
		return errors.Join(errJoined, first)
	}
	p.begun = false
	return errors.Join(fmt.Errorf("%w: %w", errCommit, first), driver.ErrBadConn)
}

// insertJoiner joins inserts of rows of width parameters: head, the rows,
// then tail.
func insertJoiner(head, tail string, width int) *joiner {
	return &joiner{key: head + "\x00" + tail, insert: &insertShape{head, tail, width}, build: func(parts [][]any) (string, []any) {
		var all []any
		for _, a := range parts {
			all = append(all, a...)
		}
		return insertSQL(head, tail, width, len(all)/width), all
	}, strict: func(parts [][]any) (string, []any) {
		// No ON CONFLICT: a conflict is then an error.
		var all []any
		for _, a := range parts {
			all = append(all, a...)
		}
		return insertSQL(head, strings.TrimSuffix(tail, " ON CONFLICT DO NOTHING"), width, len(all)/width), all
	}, sqlite: func(parts [][]any) (string, []any) {
		return sqliteInsert(head, tail, width, parts)
	}}
}

// sqliteInsert joins the inserts parts into one for SQLite; a part may
// hold several rows of width values (a login identifier per email, phone
// and username). A column whose value is the same in every row (the
// tenant, the time, a default) is bound once, as the first row's
// parameter, and named again by number in the others (?3): binding was a
// fifth of SQLite's writer time in an import, where most columns repeat.
// Its text depends on the rows and on which columns repeat.
func sqliteInsert(head, tail string, width int, parts [][]any) (string, []any) {
	var rows [][]any
	for _, part := range parts {
		for j := 0; j+width <= len(part); j += width {
			rows = append(rows, part[j:j+width])
		}
	}
	shared := make([]bool, width)
	for c := range width {
		shared[c] = true
		for _, row := range rows[1:] {
			if !sameArg(row[c], rows[0][c]) {
				shared[c] = false
				break
			}
		}
	}
	args := make([]any, 0, len(rows)*width)
	args = append(args, rows[0]...)
	var b strings.Builder
	b.Grow(len(head) + len(tail) + len(rows)*width*4)
	b.WriteString(head)
	b.WriteString("(" + strings.Repeat("?,", width-1) + "?)")
	for _, row := range rows[1:] {
		b.WriteString(",(")
		for c := range width {
			if c > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('?')
			if shared[c] {
				b.WriteString(strconv.Itoa(c + 1))
			} else {
				// A bare ? is one more than the largest number so far.
				args = append(args, row[c])
			}
		}
		b.WriteByte(')')
	}
	b.WriteString(tail)
	return b.String(), args
}

// sameArg reports whether a and b are the same value of a type that binds
// by value; anything else counts as different.
func sameArg(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case int64:
		y, ok := b.(int64)
		return ok && x == y
	case int:
		y, ok := b.(int)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case time.Time:
		// The same instant in the same location, so formatted alike.
		y, ok := b.(time.Time)
		return ok && x.Equal(y) && x.Location() == y.Location()
	}
	return false
}

// insertSQL is head, rows of width numbered parameters, and tail.
func insertSQL(head, tail string, width, rows int) string {
	var b strings.Builder
	b.Grow(len(head) + len(tail) + rows*width*5)
	b.WriteString(head)
	n := 1
	for r := range rows {
		if r > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('(')
		for c := range width {
			if c > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			n++
		}
		b.WriteByte(')')
	}
	b.WriteString(tail)
	return b.String()
}

// Rows is what a query returns: *sql.Rows, or pgx rows on a PostgreSQL write.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Close() error
	Err() error
}

// Row is what a one-row query returns.
type Row interface {
	Scan(dest ...any) error
}

type pgRows struct{ pgx.Rows }

func (r pgRows) Close() error { r.Rows.Close(); return r.Rows.Err() }

type pgResult pgconn.CommandTag

func (r pgResult) RowsAffected() (int64, error) { return pgconn.CommandTag(r).RowsAffected(), nil }
func (r pgResult) LastInsertId() (int64, error) {
	return 0, errors.New("LastInsertId is not supported by PostgreSQL")
}

// aborted reports PostgreSQL's refusal of a statement in a transaction
// that an earlier failure aborted.
func aborted(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "25P02"
}

// send sends the queued statements, and last when not nil, in one round
// trip, then runs the queued checks in order: the first error is the
// outcome, as if the statements had run one by one.
func (p *pgTx) send(ctx context.Context, last *queuedExec) (pgconn.CommandTag, error) {
	b := &pgx.Batch{}
	if !p.begun {
		p.queueBegin(b)
	}
	queued := p.queued
	p.queued, p.last = nil, 0
	for _, q := range queued {
		query, args := q.statement()
		b.Queue(query, args...)
	}
	if last != nil {
		b.Queue(last.query, last.args...)
	}
	br := p.c.SendBatch(ctx, b)
	tags := make([]pgconn.CommandTag, b.Len())
	errs := make([]error, b.Len())
	for i := range tags {
		tags[i], errs[i] = br.Exec()
	}
	closeErr := br.Close()
	i := 0
	if !p.begun {
		for ; i < p.begins(); i++ {
			if errs[i] != nil {
				return pgconn.CommandTag{}, fmt.Errorf("begin: %w", errs[i])
			}
		}
		p.begun = true
	}
	for k, q := range queued {
		if err := q.checkResult(tags[i].RowsAffected(), errs[i]); err != nil {
			if !aborted(err) {
				return pgconn.CommandTag{}, err
			}
			// The check looked further (who holds an identifier?), but a
			// later statement of the batch had failed and aborted the
			// transaction: that failure is the outcome.
			for j := i + 1; j < len(errs); j++ {
				if errs[j] == nil {
					continue
				}
				if n := k + j - i; n < len(queued) {
					return pgconn.CommandTag{}, queued[n].checkResult(tags[j].RowsAffected(), errs[j])
				}
				return tags[j], errs[j]
			}
			return pgconn.CommandTag{}, err
		}
		i++
	}
	if last != nil {
		return tags[i], errs[i]
	}
	return pgconn.CommandTag{}, closeErr
}

func (p *pgTx) exec(ctx context.Context, query string, args []any) (pgconn.CommandTag, error) {
	if !p.begun || len(p.queued) > 0 {
		return p.send(ctx, &queuedExec{query: query, args: args})
	}
	return p.c.Exec(ctx, query, args...)
}

// genericPlans makes a lane's group run generic plans only. Left to
// choose, PostgreSQL planned the group's joined seat claim afresh at every
// run, as a custom plan (which sees the plan and the start) always looked
// cheaper than the generic one of the same shape: 0.6 ms of planning a
// claim, a fifth of PostgreSQL's CPU per creation (BENCHMARKS.md). A
// group's statements find their rows by key, and a group joins at most
// maxPgGroup claims. Elsewhere plans stay PostgreSQL's choice: a generic
// plan guesses a tenth of the rows for LIMIT $n, and the queue claims,
// the sweeps and an import's claim of 250 seats read far more with it.
const genericPlans = "SET LOCAL plan_cache_mode = force_generic_plan"

// queueBegin queues BEGIN, and for a group genericPlans.
func (p *pgTx) queueBegin(b *pgx.Batch) {
	b.Queue("BEGIN")
	if p.generic {
		b.Queue(genericPlans)
	}
}

// begins is how many statements queueBegin queues.
func (p *pgTx) begins() int {
	if p.generic {
		return 2
	}
	return 1
}

// flush sends what is queued, and BEGIN if not yet sent.
func (p *pgTx) flush(ctx context.Context) error {
	if p.begun && len(p.queued) == 0 {
		return nil
	}
	_, err := p.send(ctx, nil)
	return err
}

func (p *pgTx) query(ctx context.Context, query string, args []any) (Rows, error) {
	if err := p.flush(ctx); err != nil {
		return nil, err
	}
	rows, err := p.c.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return pgRows{rows}, nil
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

func (p *pgTx) queryRow(ctx context.Context, query string, args []any) Row {
	if err := p.flush(ctx); err != nil {
		return errRow{err}
	}
	return p.c.QueryRow(ctx, query, args...)
}

// pgWrite runs fn in one transaction on a pgx connection of the pool.
func (s *Store) pgWrite(ctx context.Context, fn func(*Tx) error) error {
	res, _ := s.pgRun(ctx, []writeReq{{ctx: ctx, fn: fn}})
	if res.panic != nil {
		panic(res.panic)
	}
	return res.err
}

// errCommit marks a failed COMMIT: whether the transaction was committed is
// then unknown, so a group's writes are not run again.
var errCommit = errors.New("commit")

// pgRun runs the writes of reqs one after another in one transaction on
// one connection, and commits if all succeed. Otherwise it rolls back and
// returns the failure with the index of the write whose fn failed, or -1
// when the failure is the transaction's (a check of queued statements, the
// begin or the commit).
func (s *Store) pgRun(ctx context.Context, reqs []writeReq) (res writeResult, at int) {
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return writeResult{err: fmt.Errorf("begin: %w", err)}, -1
	}
	defer conn.Close()
	p, res, at := s.pgExec(ctx, conn, reqs, false)
	if res.err == nil && res.panic == nil && p.begun {
		res.err = s.pgCommit(ctx, conn, p)
	}
	return res, at
}

// pgExec runs the writes of reqs on conn and sends what they queued,
// leaving the transaction open for pgCommit. On failure it rolls back.
func (s *Store) pgExec(ctx context.Context, conn *sql.Conn, reqs []writeReq, generic bool) (p *pgTx, res writeResult, at int) {
	at = -1
	err := conn.Raw(func(dc any) (err error) {
		p = &pgTx{c: dc.(*stdlib.Conn).Conn(), merger: merger{merging: len(reqs) > 1}, generic: generic}
		defer func() {
			if r := recover(); r != nil {
				// A queued statement's check panicked: the transaction's.
				res, at = writeResult{panic: r}, -1
			}
			if (err != nil || res.panic != nil) && p.begun && p.rollback() != nil {
				// Do not give a connection in an unknown state back to the pool.
				err = errors.Join(err, driver.ErrBadConn)
			}
		}()
		for i, req := range reqs {
			p.last = 0 // a write's first statement may join any queued one
			if res = s.runPg(req, p); res.err != nil || res.panic != nil {
				at = i
				return res.err
			}
		}
		if !p.begun && len(p.queued) == 0 {
			return nil // nothing was written
		}
		if p.merging && p.strict() {
			return p.sendWithCommit(ctx)
		}
		return p.flush(ctx)
	})
	if res.panic == nil {
		res.err = err
	}
	return p, res, at
}

// pgCommit commits what pgExec left open on conn.
// The COMMIT is sent even when ctx has ended (the statements ran; not
// sending it would leave the connection in its transaction), and given
// commitTimeout.
func (s *Store) pgCommit(ctx context.Context, conn *sql.Conn, p *pgTx) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer cancel()
	return conn.Raw(func(any) error {
		if _, err := p.c.Exec(ctx, "COMMIT"); err != nil {
			p.begun = false
			err = fmt.Errorf("%w: %w", errCommit, err)
			if p.c.PgConn().TxStatus() != 'I' {
				// Still in a transaction, or unknown: not back to the pool.
				err = errors.Join(err, driver.ErrBadConn)
			}
			return err
		}
		return nil
	})
}

const commitTimeout = 30 * time.Second

func (s *Store) runPg(req writeReq, p *pgTx) (res writeResult) {
	defer func() {
		if r := recover(); r != nil {
			res = writeResult{panic: r}
		}
	}()
	return writeResult{err: req.fn(&Tx{pg: p, s: s, dialect: s.dialect, now: s.stamp()})}
}

// PostgreSQL's lanes. A creation's own work in PostgreSQL is small next to
// what every transaction costs: the round trips, BEGIN and COMMIT, the
// statements' start-up, and the commit's WAL flush. Grouped writes are
// queued to the lanes; a lane takes every write waiting when it is free
// (a group smaller than minPgGroup waits up to pgLinger while the other
// lane runs its statements) and runs them in one transaction, whose commit a goroutine
// then awaits. Alone, a write runs as by Write. Two lanes let PostgreSQL
// run two groups on two cores; more made smaller groups and no gain
// (BENCHMARKS.md). At eight callers creations wait on commits, not on the
// cores, so groups of four (waiting up to 600 µs) beat groups of three by
// about a tenth; larger or longer-waiting groups lost more to the wait
// than they saved in flushes (BENCHMARKS.md, issue 18).
const (
	pgLanes    = 2
	maxPgGroup = 16
	minPgGroup = 4
	pgLinger   = 600 * time.Microsecond
)

func (s *Store) startLanes() {
	s.groups = make(chan writeReq, 256)
	for range pgLanes {
		s.lanesDone.Add(1)
		go s.lane()
	}
}

func (s *Store) laneWrite(ctx context.Context, fn func(*Tx) error) error {
	req := writeReq{ctx: ctx, fn: fn, done: make(chan writeResult, 1), state: new(atomic.Int32)}
	s.closing.RLock()
	if s.closed {
		s.closing.RUnlock()
		return errClosed
	}
	select {
	case s.groups <- req:
	case <-ctx.Done():
		s.closing.RUnlock()
		return ctx.Err()
	}
	s.closing.RUnlock()
	var res writeResult
	select {
	case res = <-req.done:
	case <-ctx.Done():
		if req.state.CompareAndSwap(reqQueued, reqWithdrawn) {
			return ctx.Err() // no lane took it: nothing was written
		}
		// Taken: wait for the outcome, as the write may be committed.
		res = <-req.done
	}
	if res.panic != nil {
		panic(res.panic)
	}
	return res.err
}

func (s *Store) lane() {
	defer s.lanesDone.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for req := range s.groups {
		group := []writeReq{req}
		waited := false
	more:
		for len(group) < maxPgGroup {
			select {
			case r, ok := <-s.groups:
				if !ok {
					break more
				}
				group = append(group, r)
				continue
			default:
			}
			// A small group waits a little for more while the other lane
			// runs one: the database then works on fewer, larger groups.
			if waited || len(group) >= minPgGroup || s.running.Load() == 0 {
				break
			}
			waited = true
			timer.Reset(pgLinger)
			select {
			case r, ok := <-s.groups:
				timer.Stop()
				if !ok {
					break more
				}
				group = append(group, r)
				waited = false
			case <-timer.C:
			}
		}
		s.running.Add(1)
		s.runGroup(group)
		s.running.Add(-1)
	}
}

// errClosed answers writes that come after Close.
var errClosed = errors.New("the store is closed")

// runGroup runs group in one transaction and tells each write its outcome.
// A group of inserts and seat claims goes with its COMMIT in one round trip
// (sendWithCommit). Otherwise the lane waits for the statements, not for
// the commit: a goroutine commits while the lane starts on the next group.
func (s *Store) runGroup(group []writeReq) {
	live := group[:0]
	for _, r := range group {
		if r.state.CompareAndSwap(reqQueued, reqTaken) {
			live = append(live, r)
		} // else its caller has given up and gone
	}
	if len(live) == 0 {
		return
	}
	start := time.Now()
	// The group runs while any of its callers still waits: when every
	// one's context has ended, its statements are cancelled (and those who
	// gave up hear so, unless it had committed).
	ctx, cancel := context.WithCancel(context.Background())
	waiting := atomic.Int32{}
	waiting.Store(int32(len(live)))
	var stops []func() bool
	for _, r := range live {
		stops = append(stops, context.AfterFunc(r.ctx, func() {
			if waiting.Add(-1) == 0 {
				cancel()
			}
		}))
	}
	finish := func() {
		for _, stop := range stops {
			stop()
		}
		cancel()
	}
	conn, err := s.w.Conn(ctx)
	if err != nil {
		finish()
		for _, r := range live {
			r.done <- writeResult{err: fmt.Errorf("begin: %w", err)}
		}
		return
	}
	p, res, at := s.pgExec(ctx, conn, live, true)
	if res.err == nil && res.panic == nil {
		if !p.begun {
			// Committed with the statements, or nothing was written.
			finish()
			conn.Close()
			committed := 0
			if p.committed {
				committed = len(live)
			}
			s.work.add(committed, time.Since(start), 0)
			if p.committed && len(live) > 1 {
				s.grouped.Add(int64(len(live)))
			}
			for _, r := range live {
				r.done <- writeResult{}
			}
			return
		}
		s.inflight.Add(1)
		commitStart := time.Now()
		s.work.add(0, commitStart.Sub(start), 0) // the lane goes on to its next group
		go func() {
			defer s.inflight.Done()
			err := s.pgCommit(ctx, conn, p)
			committed := 0
			if err == nil {
				committed = len(live)
			}
			s.work.add(committed, 0, time.Since(commitStart))
			finish()
			conn.Close()
			if err == nil && len(live) > 1 {
				s.grouped.Add(int64(len(live)))
			}
			for _, r := range live {
				r.done <- writeResult{err: err}
			}
		}()
		return
	}
	s.work.add(0, time.Since(start), 0) // rolled back
	finish()
	conn.Close()
	if errors.Is(res.err, errCommit) {
		// It may have committed: running it again could repeat it.
		for _, r := range live {
			r.done <- res
		}
		return
	}
	if len(live) == 1 && (res.panic != nil || !retryable(res.err)) {
		live[0].done <- res // its own outcome
		return
	}
	// One write failed, or the group's checks did: each runs again alone,
	// concurrently, so each hears its own outcome.
	for i, r := range live {
		if i == at && res.panic != nil {
			r.done <- res
			continue
		}
		s.rerun.Add(1)
		s.inflight.Add(1)
		go func() {
			defer s.inflight.Done()
			var res writeResult
			defer func() {
				if p := recover(); p != nil {
					res.panic = p
				}
				r.done <- res
			}()
			res.err = s.pgWriteRetry(r.ctx, r.fn)
		}()
	}
}

func (p *pgTx) rollback() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := p.c.Exec(ctx, "ROLLBACK")
	return err
}

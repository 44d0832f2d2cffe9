// Package store is usher's one storage implementation. The same SQL serves
// SQLite (embedded, pure Go) and PostgreSQL; the few statements that differ
// are chosen by Dialect. Every tenant-owned method takes the tenant id and
// filters on it, so another tenant's id reads as not found.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib" // also registers "pgx"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Dialect names the database behind a Store.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

//go:embed migrations
var migrations embed.FS

// Store holds the connection pools. Reads go through a pool of read-only
// connections on both databases. For SQLite, writes go through one
// connection (so concurrent writers queue in Go instead of failing with
// "database is locked").
type Store struct {
	dialect Dialect
	w       *sql.DB
	r       *sql.DB
	now     func() time.Time
	// Prepared statements by query text, for SQLite, where preparing costs
	// as much as running; pgx caches its own per connection.
	wStmts, rStmts sync.Map
	// joined keeps WriteMany's joined statements prepared (SQLite).
	joined joinedStmts
	// queue feeds SQLite's single writer goroutine, which runs concurrent
	// writes together in one transaction (group commit). The writer pool
	// has a second connection only so statements can be prepared while a
	// transaction holds the first.
	queue chan writeReq
	// held is a write the writer took from queue for its next batch.
	held    *writeReq
	stopped chan struct{}
	// commits counts the writer's commits since the last checkpoint.
	commits            atomic.Int64
	ckpt               *sql.DB
	ckptStop, ckptDone chan struct{}
	// join builds the joined inserts of groups of writes (unnest.go).
	join *joiners
	// groups feeds PostgreSQL's lanes, which run the writes of WriteGrouped
	// that wait at the same moment in one transaction.
	groups    chan writeReq
	lanesDone sync.WaitGroup
	grouped   atomic.Int64
	splits    atomic.Int64 // WriteMany batches that failed and ran again in halves
	rerun     atomic.Int64
	// inflight counts the lanes' commits and reruns, which Close awaits;
	// closing keeps writes from queueing once Close has begun.
	inflight sync.WaitGroup
	closing  sync.RWMutex
	closed   bool
	running  atomic.Int32 // lanes running a group
	// work counts what the writers did: SQLite's writer's batches,
	// PostgreSQL's lanes' groups (WriterStats).
	work writerWork
}

// writerWork accumulates WriterStats.
type writerWork struct {
	batches, writes, busy, commit atomic.Int64 // busy and commit in nanoseconds
}

// add records a transaction that took busy (and commit, in COMMIT), and
// committed writes; one that committed none counts only its time.
func (w *writerWork) add(writes int, busy, commit time.Duration) {
	if writes > 0 {
		w.batches.Add(1)
		w.writes.Add(int64(writes))
	}
	w.busy.Add(int64(busy))
	w.commit.Add(int64(commit))
}

// WriterStats is what the writers have done since the store opened. On
// SQLite it counts the single writer's transactions (batches of writes); on
// PostgreSQL the lanes' (groups of WriteGrouped's writes). Writes that run
// elsewhere are not counted: on PostgreSQL the other writes, which run on
// their callers' goroutines, and the writes of a failed group, which run
// again alone.
type WriterStats struct {
	Batches int64 // transactions that committed
	Writes  int64 // the writes they committed
	// Busy is the time the writer (SQLite) or a lane (PostgreSQL) was taken
	// by a transaction, rolled back ones included: on SQLite from its start
	// to the end of its COMMIT, less its waits for more writes; on
	// PostgreSQL until the lane could take its next group.
	Busy time.Duration
	// Commit is time in COMMIT. On SQLite it is part of Busy. On PostgreSQL
	// a group's COMMIT sent with its statements is in Busy and not here; one
	// sent apart is awaited by another goroutine while the lane goes on, and
	// counted here only.
	Commit time.Duration
}

// WriterStats returns the writers' work so far.
func (s *Store) WriterStats() WriterStats {
	return WriterStats{Batches: s.work.batches.Load(), Writes: s.work.writes.Load(),
		Busy: time.Duration(s.work.busy.Load()), Commit: time.Duration(s.work.commit.Load())}
}

// Open connects to dsn: a postgres:// or postgresql:// URL, or a path to a
// SQLite file (created if absent). now is the clock; nil means time.Now.
// Migrations are applied before Open returns.
func Open(ctx context.Context, dsn string, now func() time.Time) (*Store, error) {
	if now == nil {
		now = time.Now
	}
	s := &Store{now: now}
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		s.dialect = Postgres
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		// Reads get a pool of their own, whose sessions start every
		// transaction read-only: a write through Read() fails instead of
		// committing on its own outside any transaction. Separate pools also
		// keep a burst of lookups from taking the connections the lanes and
		// writes need.
		rcfg := cfg.Copy()
		rcfg.RuntimeParams["default_transaction_read_only"] = "on"
		w, r := stdlib.OpenDB(*cfg), stdlib.OpenDB(*rcfg)
		for _, db := range []*sql.DB{w, r} {
			db.SetMaxOpenConns(pgPoolConns)
			db.SetMaxIdleConns(pgPoolConns)
			db.SetConnMaxIdleTime(5 * time.Minute)
		}
		s.w, s.r = w, r
		s.startLanes()
	} else {
		s.dialect = SQLite
		path := strings.TrimPrefix(dsn, "sqlite://")
		if dir := filepath.Dir(path); dir != "" {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("create data folder: %w", err)
			}
		}
		// WAL lets readers run beside the writer; synchronous=NORMAL is durable
		// across process crashes in WAL mode; busy_timeout covers other processes.
		common := "_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_pragma=temp_store(MEMORY)&_time_format=sqlite"
		file := "file:" + (&url.URL{Path: path}).EscapedPath()
		// The checkpointer goroutine copies the WAL into the database file;
		// the writer's own checkpoint, at 4,000 pages, only finishes its work
		// so that the next write starts the WAL over.
		// The writer keeps SQLite's page cache of 2 MiB: 16 MiB made an
		// import 10–20 % faster but the server's memory during an import of
		// 1,000,000 rows 117 → 170 MB (8 MiB: 140 MB, 5 %), against a bar
		// of 150 MB (BENCHMARKS.md, "Importing people").
		w, err := sql.Open("sqlite", file+"?_pragma=journal_mode(WAL)&_pragma=wal_autocheckpoint(4000)&_pragma=journal_size_limit(67108864)&_txlock=immediate&"+common)
		if err != nil {
			return nil, fmt.Errorf("open sqlite: %w", err)
		}
		w.SetMaxOpenConns(2)
		w.SetMaxIdleConns(2)
		w.SetConnMaxLifetime(0)
		w.SetConnMaxIdleTime(0)
		// Create the file and switch it to WAL before readers open it.
		if err := w.PingContext(ctx); err != nil {
			w.Close()
			return nil, fmt.Errorf("open sqlite %s: %w", path, err)
		}
		// Page caches are most of the memory that varies: 512 KiB a reader
		// holds the indexes' upper levels; leaves come from the OS's cache.
		r, err := sql.Open("sqlite", file+"?mode=ro&_pragma=query_only(1)&_pragma=cache_size(-512)&"+common)
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("open sqlite readers: %w", err)
		}
		n := max(4, runtime.GOMAXPROCS(0)*2)
		r.SetMaxOpenConns(n)
		r.SetMaxIdleConns(n)
		r.SetConnMaxIdleTime(0)
		ckpt, err := sql.Open("sqlite", file+"?_pragma=cache_size(-64)&"+common)
		if err != nil {
			w.Close()
			r.Close()
			return nil, fmt.Errorf("open sqlite checkpointer: %w", err)
		}
		ckpt.SetMaxOpenConns(1)
		ckpt.SetConnMaxIdleTime(0)
		s.w, s.r, s.ckpt = w, r, ckpt
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	s.join = &joiners{}
	if s.dialect == Postgres && arraysAllowed(dsn) {
		types, err := loadColumnTypes(ctx, s)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.join.types = types
	}
	if s.dialect == SQLite {
		s.queue = make(chan writeReq, 256)
		s.stopped = make(chan struct{})
		go s.writer()
		s.ckptStop, s.ckptDone = make(chan struct{}), make(chan struct{})
		go s.checkpointer(s.ckpt)
	}
	return s, nil
}

// pgPoolConns is the size of each of PostgreSQL's pools: writes keep the
// 32 connections they had while reads shared them, and reads get as many,
// so neither waits for the other. Connections open only when needed and
// close after five idle minutes, so a quiet replica holds few of
// PostgreSQL's max_connections (100 by default), a busy one up to 64.
const pgPoolConns = 32

// Dialect reports which database the store talks to.
func (s *Store) Dialect() Dialect { return s.dialect }

// Close releases the pools.
func (s *Store) Close() error {
	if s.queue != nil {
		// The checkpointer first: it queues writes of its own (Optimize).
		close(s.ckptStop)
		<-s.ckptDone
		close(s.queue)
		<-s.stopped
	}
	if s.groups != nil {
		s.closing.Lock()
		if !s.closed {
			s.closed = true
			close(s.groups)
		}
		s.closing.Unlock()
		s.lanesDone.Wait()
		s.inflight.Wait()
	}
	for _, m := range []*sync.Map{&s.wStmts, &s.rStmts} {
		m.Range(func(_, v any) bool { v.(*sql.Stmt).Close(); return true })
	}
	err := s.w.Close()
	if s.ckpt != nil {
		err = errors.Join(err, s.ckpt.Close())
	}
	return errors.Join(err, s.r.Close())
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	return s.w.PingContext(ctx)
}

// Stats reports pool statistics of the writer pool, for metrics.
func (s *Store) Stats() sql.DBStats { return s.w.Stats() }

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version TEXT PRIMARY KEY)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	dir := "migrations/" + string(s.dialect)
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return fmt.Errorf("read migrations: %w", err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	for _, name := range names {
		version := strings.TrimSuffix(name, ".sql")
		err := s.tx(ctx, func(q *Tx) error {
			if s.dialect == Postgres {
				// Serialize concurrent replicas starting at once.
				if _, err := q.q.ExecContext(ctx, `SELECT pg_advisory_xact_lock(7283019)`); err != nil {
					return err
				}
			}
			var n int
			if err := q.q.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`, version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			body, err := migrations.ReadFile(dir + "/" + name)
			if err != nil {
				return err
			}
			for _, stmt := range splitStatements(string(body)) {
				if _, err := q.q.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("%s: %w", firstLine(stmt), err)
				}
			}
			_, err = q.q.ExecContext(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, version)
			return err
		})
		if err != nil {
			return fmt.Errorf("migration %s: %w", name, err)
		}
	}
	return nil
}

// splitStatements splits a migration file on semicolons at line ends; the
// migrations contain no semicolons inside statements.
func splitStatements(body string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.Split(body, "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "--") || trimmed == "" {
			continue
		}
		cur.WriteString(line)
		cur.WriteString("\n")
		if strings.HasSuffix(trimmed, ";") {
			out = append(out, cur.String())
			cur.Reset()
		}
	}
	if strings.TrimSpace(cur.String()) != "" {
		out = append(out, cur.String())
	}
	return out
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// sqlQuerier is what both *sql.DB and *sql.Tx offer.
type sqlQuerier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// querier is what a Tx offers to the queries.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) Row
}

// Tx carries the queries of one unit of work: inside Write it is one
// transaction with one fixed "now"; from Read it runs on the read pool.
type Tx struct {
	q  sqlQuerier
	tx *sql.Tx // nil on the read pool
	pg *pgTx   // a PostgreSQL write, instead of q
	mq *merger // SQLite: WriteMany's statements, joined until flushed
	// recording: WriteMany's writes queue their statements outside the
	// writer (joinedWrite); a statement that must run at once cannot, and
	// sets needsTx.
	recording, needsTx bool
	s                  *Store
	dialect            Dialect
	now                time.Time
}

// stmt returns the cached prepared statement for query, or nil where
// statements are not cached.
func (t *Tx) stmt(ctx context.Context, query string) *sql.Stmt {
	if t.dialect != SQLite {
		return nil
	}
	cache, db := &t.s.rStmts, t.s.r
	if t.tx != nil {
		cache, db = &t.s.wStmts, t.s.w
	}
	if v, ok := cache.Load(query); ok {
		return v.(*sql.Stmt)
	}
	ps, err := db.PrepareContext(ctx, query)
	if err != nil {
		return nil // let the plain call report the error
	}
	if v, loaded := cache.LoadOrStore(query, ps); loaded {
		ps.Close()
		return v.(*sql.Stmt)
	}
	return ps
}

// ExecContext runs a statement, prepared once per query text on SQLite.
func (t *Tx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if t.recording {
		t.needsTx = true
		return nil, errNeedsTx
	}
	if t.pg != nil {
		tag, err := t.pg.exec(ctx, query, args)
		return pgResult(tag), err
	}
	if t.reading() {
		res, err := t.readExec(ctx, query, args)
		return res, readOnly(err)
	}
	if err := t.flushMerged(ctx); err != nil {
		return nil, err
	}
	if ps := t.stmt(ctx, query); ps != nil {
		return t.tx.StmtContext(ctx, ps).ExecContext(ctx, args...)
	}
	return t.q.ExecContext(ctx, query, args...)
}

func (t *Tx) readExec(ctx context.Context, query string, args []any) (sql.Result, error) {
	if ps := t.stmt(ctx, query); ps != nil {
		return ps.ExecContext(ctx, args...)
	}
	return t.q.ExecContext(ctx, query, args...)
}

// QueryContext runs a query, prepared once per query text on SQLite.
func (t *Tx) QueryContext(ctx context.Context, query string, args ...any) (Rows, error) {
	if t.recording {
		t.needsTx = true
		return nil, errNeedsTx
	}
	if t.pg != nil {
		return t.pg.query(ctx, query, args)
	}
	if t.reading() {
		rows, err := t.readQuery(ctx, query, args)
		if err != nil {
			return nil, readOnly(err)
		}
		return readRows{rows}, nil
	}
	if err := t.flushMerged(ctx); err != nil {
		return nil, err
	}
	if ps := t.stmt(ctx, query); ps != nil {
		return t.tx.StmtContext(ctx, ps).QueryContext(ctx, args...)
	}
	return t.q.QueryContext(ctx, query, args...)
}

func (t *Tx) readQuery(ctx context.Context, query string, args []any) (*sql.Rows, error) {
	if ps := t.stmt(ctx, query); ps != nil {
		return ps.QueryContext(ctx, args...)
	}
	return t.q.QueryContext(ctx, query, args...)
}

// QueryRowContext runs a one-row query, prepared once per query text on SQLite.
func (t *Tx) QueryRowContext(ctx context.Context, query string, args ...any) Row {
	if t.recording {
		t.needsTx = true
		return errRow{errNeedsTx}
	}
	if t.pg != nil {
		return t.pg.queryRow(ctx, query, args)
	}
	if t.reading() {
		if ps := t.stmt(ctx, query); ps != nil {
			return readRow{ps.QueryRowContext(ctx, args...)}
		}
		return readRow{t.q.QueryRowContext(ctx, query, args...)}
	}
	if err := t.flushMerged(ctx); err != nil {
		return errRow{err}
	}
	if ps := t.stmt(ctx, query); ps != nil {
		return t.tx.StmtContext(ctx, ps).QueryRowContext(ctx, args...)
	}
	return t.q.QueryRowContext(ctx, query, args...)
}

// ErrReadOnly is the error of a statement that would write run on a Tx from
// Store.Read, which is no transaction: on both databases the read pool
// refuses it, so nothing is written.
var ErrReadOnly = errors.New("a write was attempted outside a transaction: a Tx from Store.Read only reads; write in Store.Write")

// readOnly marks the read pool's refusal of a write as ErrReadOnly:
// PostgreSQL's read_only_sql_transaction (25006), SQLite's SQLITE_READONLY.
func readOnly(err error) error {
	if err == nil {
		return nil
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) && pg.Code == "25006" {
		return fmt.Errorf("%w (%w)", ErrReadOnly, err)
	}
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_READONLY {
		return fmt.Errorf("%w (%w)", ErrReadOnly, err)
	}
	return err
}

// readRows and readRow carry the read pool's refusal of a write that
// surfaces only when rows are read (an INSERT … RETURNING). One pointer
// each, they cost no allocation.
type readRows struct{ *sql.Rows }

func (r readRows) Err() error   { return readOnly(r.Rows.Err()) }
func (r readRows) Close() error { return readOnly(r.Rows.Close()) }

type readRow struct{ r *sql.Row }

func (r readRow) Scan(dest ...any) error { return readOnly(r.r.Scan(dest...)) }

// execThen runs a statement whose outcome only needs checking: check gets
// the rows affected or the error. In a PostgreSQL write the statement is
// queued and sent with the next one whose result is needed, and check runs
// then; an error it returns is the transaction's. Elsewhere it runs at once.
func (t *Tx) execThen(ctx context.Context, check func(n int64, err error) error, query string, args ...any) error {
	if t.pg != nil {
		t.pg.queue(queuedExec{query: query, args: args, check: check})
		return nil
	}
	if t.mq != nil {
		t.mq.queue(queuedExec{query: query, args: args, check: check})
		return nil
	}
	res, err := t.ExecContext(ctx, query, args...)
	var n int64
	if err == nil {
		n, _ = res.RowsAffected()
	}
	return check(n, err)
}

// insertThen is execThen for an insert of rows: head ("INSERT INTO t (a,
// b) VALUES "), then len(args)/width rows of width parameters, then tail
// (" ON CONFLICT DO NOTHING" or ""). In a group of PostgreSQL writes, the
// rows of equal inserts of the group's writes go in one statement; check
// gets the rows affected by its own rows.
func (t *Tx) insertThen(ctx context.Context, check func(n int64, err error) error, head, tail string, width int, args ...any) error {
	if len(args) == 0 || len(args)%width != 0 {
		// A caller's mistake, which a joined insert would hide.
		panic(fmt.Sprintf("store: an insert of rows of %d values given %d", width, len(args)))
	}
	rows := len(args) / width
	// Queued, the text is made only if the insert is not joined (statement).
	if t.pg != nil {
		t.pg.queue(queuedExec{args: args, check: check, rows: rows, join: t.joiners().joiner(head, tail, width)})
		return nil
	}
	if t.mq != nil {
		t.mq.queue(queuedExec{args: args, check: check, rows: rows, join: t.joiners().joiner(head, tail, width)})
		return nil
	}
	return t.execThen(ctx, check, insertSQL(head, tail, width, rows), args...)
}

// joiners is the store's builder of joined inserts, or nil.
func (t *Tx) joiners() *joiners {
	if t.s == nil {
		return nil
	}
	return t.s.join
}

// reading reports a Tx from Read: on the read pool, in no transaction.
func (t *Tx) reading() bool { return t.tx == nil && t.pg == nil }

// Now is the time this unit of work stamps on what it writes.
func (t *Tx) Now() time.Time { return t.now }

// Read returns a Tx on the read pool, for queries outside a transaction.
// A statement through it that would write fails with ErrReadOnly.
func (s *Store) Read() *Tx {
	return &Tx{q: s.r, s: s, dialect: s.dialect, now: s.stamp()}
}

// Write runs fn in one transaction and commits if it returns nil. fn may
// run more than once (on PostgreSQL a serialization failure or deadlock is
// retried; on SQLite a write after which another of its batch failed runs
// again): it must start from its inputs each time, and change nothing
// outside the transaction except what it returns.
func (s *Store) Write(ctx context.Context, fn func(*Tx) error) error {
	if s.queue != nil {
		return s.groupWrite(ctx, fn)
	}
	return s.pgWriteRetry(ctx, fn)
}

// WriteGrouped is Write for the many small, independent writes of a busy
// moment, such as account creations. On SQLite every write is grouped
// anyway. On PostgreSQL the grouped writes waiting at the same moment share
// one transaction: their statements go in one round trip and they share
// one commit. When any of them fails, the group is rolled back and each
// runs again alone, so each gets its own outcome; fn must not hold its
// transaction open for long (no password hashing inside).
func (s *Store) WriteGrouped(ctx context.Context, fn func(*Tx) error) error {
	if s.queue != nil {
		return s.groupWrite(ctx, fn)
	}
	return s.laneWrite(ctx, fn)
}

// GroupStats counts the writes of WriteGrouped that PostgreSQL's lanes
// committed in a transaction shared with others, and those run again alone
// because their group failed.
func (s *Store) GroupStats() (grouped, rerun int64) { return s.grouped.Load(), s.rerun.Load() }

func (s *Store) pgWriteRetry(ctx context.Context, fn func(*Tx) error) error {
	for attempt := 0; ; attempt++ {
		err := s.pgWrite(ctx, fn)
		if err == nil || attempt >= 4 || !retryable(err) {
			return err
		}
	}
}

func (s *Store) stamp() time.Time {
	// PostgreSQL keeps microseconds; truncating keeps both databases equal.
	return s.now().UTC().Truncate(time.Microsecond)
}

func (s *Store) tx(ctx context.Context, fn func(*Tx) error) (err error) {
	sqlTx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = sqlTx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = sqlTx.Rollback()
		}
	}()
	if err = fn(&Tx{q: sqlTx, tx: sqlTx, s: s, dialect: s.dialect, now: s.stamp()}); err != nil {
		return err
	}
	if err = sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func retryable(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "40001" || pg.Code == "40P01"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()&0xff == sqlite3.SQLITE_BUSY
	}
	return false
}

// isUnique reports a unique-constraint violation.
func isUnique(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "23505"
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || se.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// NewID returns a time-ordered unique id (UUIDv7), so keyset paging by id
// lists objects in creation order.
func NewID() string {
	return uuid.Must(uuid.NewV7()).String()
}

package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/usherhq/usher"
)

// Import states.
const (
	ImportQueued    = "queued"
	ImportRunning   = "running"
	ImportDone      = "done"
	ImportCancelled = "cancelled"
	ImportFailed    = "failed"
)

// ImportRecord is a bulk import as a job: its file's facts, its state and
// counts, and the lease of the worker on it.
type ImportRecord struct {
	ID, TenantID, State string
	Actor               usher.Actor // who started it
	FileName            string
	FileSize            int64
	FileSHA256, Format  string
	TotalRows, RowsDone int
	Created, Skipped    int
	Refused             int
	Error               string
	// Failures counts the times work on the import failed for a reason
	// other than its rows and was given back to be tried again.
	Failures   int
	LeaseOwner string
	LeaseUntil *time.Time
	CreatedAt  time.Time
	StartedAt  *time.Time
	FinishedAt *time.Time
	UpdatedAt  time.Time
	// FileDeletedAt is when the retention pass deleted the file of the
	// finished import; nil while it is kept.
	FileDeletedAt *time.Time
}

// ImportRowRecord is a row's result: account and person for a created row,
// problems (JSON) for a skipped or refused one.
type ImportRowRecord struct {
	Row                 int
	Result              string
	AccountID, PersonID string
	Problems            string
}

const importCols = `id, tenant_id, state, actor, file_name, file_size, file_sha256, format, total_rows, rows_done, created, skipped, refused,
	error, lease_owner, lease_until, created_at, started_at, finished_at, updated_at, file_deleted_at, failures`

func scanImport(r scanner) (ImportRecord, error) {
	var j ImportRecord
	var actor string
	var lease, started, finished, deleted sql.NullTime
	err := r.Scan(&j.ID, &j.TenantID, &j.State, &actor, &j.FileName, &j.FileSize, &j.FileSHA256, &j.Format, &j.TotalRows, &j.RowsDone,
		&j.Created, &j.Skipped, &j.Refused, &j.Error, &j.LeaseOwner, &lease, &j.CreatedAt, &started, &finished, &j.UpdatedAt, &deleted, &j.Failures)
	if err != nil {
		return j, err
	}
	j.LeaseUntil, j.StartedAt, j.FinishedAt, j.FileDeletedAt = ptrTime(lease), ptrTime(started), ptrTime(finished), ptrTime(deleted)
	j.CreatedAt, j.UpdatedAt = j.CreatedAt.UTC(), j.UpdatedAt.UTC()
	if err := json.Unmarshal([]byte(actor), &j.Actor); err != nil {
		return j, fmt.Errorf("import %s: its actor: %w", j.ID, err)
	}
	return j, nil
}

// InsertImport stores a new queued import, whose file's chunks were
// stored before under its id (j.ID, set by the caller).
func (t *Tx) InsertImport(ctx context.Context, j *ImportRecord) error {
	if j.ID == "" {
		return fmt.Errorf("insert import: no id: the file's chunks are stored under it first")
	}
	actor, err := json.Marshal(j.Actor)
	if err != nil {
		return err
	}
	j.State, j.CreatedAt, j.UpdatedAt = ImportQueued, t.now, t.now
	if _, err := t.ExecContext(ctx, `INSERT INTO imports (`+importCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,0,0,0,0,'','',NULL,$10,NULL,NULL,$10,NULL,0)`,
		j.ID, j.TenantID, j.State, string(actor), j.FileName, j.FileSize, j.FileSHA256, j.Format, j.TotalRows, t.now); err != nil {
		return fmt.Errorf("insert import: %w", err)
	}
	return nil
}

// InsertImportChunk stores chunk seq (from 0) of the file of import id.
func (t *Tx) InsertImportChunk(ctx context.Context, id string, seq int, data []byte) error {
	if _, err := t.ExecContext(ctx, `INSERT INTO import_file_chunks (import_id, seq, data, created_at) VALUES ($1, $2, $3, $4)`,
		id, seq, data, t.now); err != nil {
		return fmt.Errorf("insert chunk %d of import %s's file: %w", seq, id, err)
	}
	return nil
}

// DeleteImportFile deletes the chunks of the file of import id: a file
// refused, or one whose import ended long enough ago.
func (t *Tx) DeleteImportFile(ctx context.Context, id string) error {
	if _, err := t.ExecContext(ctx, `DELETE FROM import_file_chunks WHERE import_id = $1`, id); err != nil {
		return fmt.Errorf("delete import %s's file: %w", id, err)
	}
	return nil
}

// ImportChunk returns chunk seq of the file of import id, appended to
// buf[:0]; ok is false past its last chunk. The import is not looked up:
// a file's chunks exist before their import does.
func (t *Tx) ImportChunk(ctx context.Context, id string, seq int, buf []byte) (data []byte, ok bool, err error) {
	var raw sql.RawBytes
	rows, err := t.QueryContext(ctx, `SELECT data FROM import_file_chunks WHERE import_id = $1 AND seq = $2`, id, seq)
	if err != nil {
		return nil, false, fmt.Errorf("chunk %d of import %s's file: %w", seq, id, err)
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, false, rows.Err()
	}
	// RawBytes: the driver's own buffer, copied once into buf.
	if err := rows.Scan(&raw); err != nil {
		return nil, false, fmt.Errorf("chunk %d of import %s's file: %w", seq, id, err)
	}
	return append(buf[:0], raw...), true, rows.Close()
}

// ExpireImportFiles deletes the files of the imports that finished more
// than retention ago, recording when, and the chunks of uploads that never
// became an import, written more than orphaned ago. It returns how many
// imports' files it deleted.
func (t *Tx) ExpireImportFiles(ctx context.Context, retention, orphaned time.Duration) (int, error) {
	finished := t.now.Add(-retention)
	if _, err := t.ExecContext(ctx, `DELETE FROM import_file_chunks WHERE import_id IN
		(SELECT id FROM imports WHERE finished_at < $1 AND file_deleted_at IS NULL)`, finished); err != nil {
		return 0, fmt.Errorf("delete finished imports' files: %w", err)
	}
	res, err := t.ExecContext(ctx, `UPDATE imports SET file_deleted_at = $2, updated_at = $2
		WHERE finished_at < $1 AND file_deleted_at IS NULL`, finished, t.now)
	if err != nil {
		return 0, fmt.Errorf("record finished imports' files deleted: %w", err)
	}
	n, _ := res.RowsAffected()
	if _, err := t.ExecContext(ctx, `DELETE FROM import_file_chunks WHERE created_at < $1
		AND NOT EXISTS (SELECT 1 FROM imports i WHERE i.id = import_file_chunks.import_id)`, t.now.Add(-orphaned)); err != nil {
		return 0, fmt.Errorf("delete the chunks of uploads that never became an import: %w", err)
	}
	return int(n), nil
}

// Import returns import id of tenant.
func (t *Tx) Import(ctx context.Context, tenant, id string) (ImportRecord, error) {
	j, err := scanImport(t.QueryRowContext(ctx, `SELECT `+importCols+` FROM imports WHERE tenant_id = $1 AND id = $2`, tenant, id))
	if notFound(err) {
		return j, usher.NotFound("import_id", "import")
	}
	return j, err
}

// Imports lists tenant's imports, newest first.
func (t *Tx) Imports(ctx context.Context, tenant string, o ListOptions) ([]ImportRecord, string, error) {
	w := &where{}
	w.add("tenant_id = ?", tenant)
	o.Newest = true
	return page(ctx, t, `SELECT `+importCols+` FROM imports`, w, o, scanImport, func(j ImportRecord) string { return j.ID })
}

// ClaimImport leases to owner, until lease from now, the oldest import
// not finished whose lease is free or ran out (only import id, if id is
// not ""): a queued job starts running, a running one is taken over, a
// cancelled one is left to finish. ok is false when there is none.
func (t *Tx) ClaimImport(ctx context.Context, owner, id string, lease time.Duration) (ImportRecord, bool, error) {
	w := &where{}
	w.add("finished_at IS NULL")
	w.add("(lease_until IS NULL OR lease_until <= ?)", t.now)
	if id != "" {
		w.add("id = ?", id)
	}
	skip := ""
	if t.dialect == Postgres {
		// A creation recording a row of the import holds it FOR SHARE
		// until its commit, and so hides the job from a claim meanwhile:
		// a worker that stalled past its lease is not taken over while
		// one of its creations is still committing.
		skip = " FOR NO KEY UPDATE SKIP LOCKED"
	}
	sel := `SELECT id FROM imports` + w.sql() + ` ORDER BY id LIMIT 1` + skip
	q := `UPDATE imports SET lease_owner = ` + w.next(owner) + `, lease_until = ` + w.next(t.now.Add(lease)) + `, updated_at = ` + w.next(t.now) + `,
		state = CASE WHEN state = 'queued' THEN 'running' ELSE state END, started_at = COALESCE(started_at, ` + w.next(t.now) + `)
		WHERE id = (` + sel + `) RETURNING ` + importCols
	j, err := scanImport(t.QueryRowContext(ctx, q, w.args...))
	if notFound(err) {
		return j, false, nil
	} else if err != nil {
		return j, false, fmt.Errorf("claim import: %w", err)
	}
	return j, true, nil
}

// DeferImport gives owner's lease of import id back after a failure that
// was not its rows', to be taken again from until on, and counts the
// failure with its message; false when owner no longer holds the lease.
func (t *Tx) DeferImport(ctx context.Context, id, owner string, until time.Time, msg string) (bool, error) {
	res, err := t.ExecContext(ctx, `UPDATE imports SET lease_owner = '', lease_until = $3, failures = failures + 1, error = $4, updated_at = $5
		WHERE id = $1 AND lease_owner = $2`, id, owner, until, msg, t.now)
	if err != nil {
		return false, fmt.Errorf("defer import: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// RenewImport extends owner's lease of import id and returns its state;
// ok is false when owner no longer holds the lease.
func (t *Tx) RenewImport(ctx context.Context, id, owner string, lease time.Duration) (state string, ok bool, err error) {
	err = t.QueryRowContext(ctx, `UPDATE imports SET lease_until = $3 WHERE id = $1 AND lease_owner = $2 RETURNING state`,
		id, owner, t.now.Add(lease)).Scan(&state)
	if notFound(err) {
		return "", false, nil
	} else if err != nil {
		return "", false, fmt.Errorf("renew import lease: %w", err)
	}
	return state, true, nil
}

// ImportCounts are what a batch adds to an import's progress.
type ImportCounts struct{ Done, Created, Skipped, Refused int }

// AddImportProgress adds c to running import id while owner holds its
// lease; false when owner does not, or the import was cancelled.
func (t *Tx) AddImportProgress(ctx context.Context, id, owner string, c ImportCounts) (bool, error) {
	res, err := t.ExecContext(ctx, `UPDATE imports SET rows_done = rows_done + $3, created = created + $4, skipped = skipped + $5,
		refused = refused + $6, updated_at = $7 WHERE id = $1 AND lease_owner = $2 AND state = 'running'`,
		id, owner, c.Done, c.Created, c.Skipped, c.Refused, t.now)
	if err != nil {
		return false, fmt.Errorf("import progress: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// RecountImport sets import id's counts from its rows' results, as a
// worker that takes a job over or finishes one does.
func (t *Tx) RecountImport(ctx context.Context, id string) error {
	_, err := t.ExecContext(ctx, `UPDATE imports SET
		rows_done = (SELECT count(*) FROM import_rows WHERE import_id = $1),
		created = (SELECT count(*) FROM import_rows WHERE import_id = $1 AND result = 'created'),
		skipped = (SELECT count(*) FROM import_rows WHERE import_id = $1 AND result = 'skipped'),
		refused = (SELECT count(*) FROM import_rows WHERE import_id = $1 AND result = 'refused'),
		updated_at = $2 WHERE id = $1`, id, t.now)
	if err != nil {
		return fmt.Errorf("recount import: %w", err)
	}
	return nil
}

// FinishImport records the end of import id held by owner: state (a
// cancelled import stays cancelled) and msg, the failure's. False when
// owner no longer holds the lease.
func (t *Tx) FinishImport(ctx context.Context, id, owner, state, msg string) (bool, error) {
	res, err := t.ExecContext(ctx, `UPDATE imports SET state = CASE WHEN state = 'cancelled' THEN state ELSE $3 END, error = $4,
		finished_at = $5, updated_at = $5, lease_owner = '', lease_until = NULL WHERE id = $1 AND lease_owner = $2`, id, owner, state, msg, t.now)
	if err != nil {
		return false, fmt.Errorf("finish import: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// ReleaseImport gives up owner's lease of import id, for another worker
// to take it at once.
func (t *Tx) ReleaseImport(ctx context.Context, id, owner string) error {
	_, err := t.ExecContext(ctx, `UPDATE imports SET lease_owner = '', lease_until = NULL WHERE id = $1 AND lease_owner = $2`, id, owner)
	return err
}

// CancelImport cancels import id of tenant if it is queued or running and
// returns it; a worker then finishes it. An import that ended is returned
// as it is.
func (t *Tx) CancelImport(ctx context.Context, tenant, id string) (ImportRecord, error) {
	if _, err := t.ExecContext(ctx, `UPDATE imports SET state = 'cancelled', updated_at = $3
		WHERE tenant_id = $1 AND id = $2 AND state IN ('queued','running')`, tenant, id, t.now); err != nil {
		return ImportRecord{}, fmt.Errorf("cancel import: %w", err)
	}
	return t.Import(ctx, tenant, id)
}

// InsertImportRows records the results of rows not created; a row with a
// result already keeps it.
func (t *Tx) InsertImportRows(ctx context.Context, importID string, rows []ImportRowRecord) error {
	const width, chunk = 6, 500
	for len(rows) > 0 {
		part := rows[:min(chunk, len(rows))]
		rows = rows[len(part):]
		args := make([]any, 0, len(part)*width)
		for _, r := range part {
			args = append(args, importID, r.Row, r.Result, r.AccountID, r.PersonID, r.Problems)
		}
		q := insertSQL(`INSERT INTO import_rows (import_id, row_num, result, account_id, person_id, problems) VALUES `, ` ON CONFLICT DO NOTHING`, width, len(part))
		if _, err := t.ExecContext(ctx, q, args...); err != nil {
			return fmt.Errorf("insert import rows: %w", err)
		}
	}
	return nil
}

// RecordImportRow records that row of import importID created account
// and person, in the transaction of their creation: a row that has a
// result already is a conflict, so no row is ever created twice. So is a
// row of an import that was cancelled (the batches under way then create
// nothing more), or that owner no longer holds or that has finished: a
// worker that lost its lease (paused past it, while another replica took
// the import over and perhaps finished it) then creates nothing, instead
// of accounts after the import's end. On PostgreSQL the row's insert holds
// the import (FOR SHARE) until the commit, so the import cannot change
// hands between the check and the commit.
func (t *Tx) RecordImportRow(ctx context.Context, importID, owner string, row int, account, person string) error {
	check := func(n int64, err error) error {
		if err != nil {
			return fmt.Errorf("record import row: %w", err)
		}
		if n == 0 {
			return usher.Conflict("import_row", "row %d of import %s has a result already, or the import is no longer this worker's", row, importID)
		}
		return nil
	}
	q := queuedExec{query: importRowSQL[t.dialect], args: []any{importID, row, account, person, owner}, check: check, rows: 1,
		join: &joiner{key: "import rows\x00" + importID + "\x00" + owner, build: importRowsBuild, strict: importRowsStrict, sqlite: importRowsSQLite}}
	switch {
	case t.pg != nil:
		t.pg.queue(q)
		return nil
	case t.mq != nil:
		t.mq.queue(q)
		return nil
	}
	return t.execThen(ctx, check, q.query, q.args...)
}

const importRowsHead = `INSERT INTO import_rows (import_id, row_num, result, account_id, person_id, problems) `

// importRowGuard is the condition under which an import's rows are
// recorded: the import is still imp's owner's, running (not cancelled),
// and not finished.
func importRowGuard(d Dialect, imp, owner string) string {
	lock := ""
	if d == Postgres {
		lock = " FOR SHARE"
	}
	return ` WHERE EXISTS (SELECT 1 FROM imports WHERE id = ` + imp + ` AND lease_owner = ` + owner + ` AND state = 'running' AND finished_at IS NULL` + lock + `)`
}

// importRowSQL records one row: $1 the import, $2 the row, $3 the
// account, $4 the person, $5 the owner. It and the joined forms are made
// once: an import records a row with each account.
var importRowSQL = map[Dialect]string{SQLite: importRowOne(SQLite), Postgres: importRowOne(Postgres)}

var importRowsBuild, importRowsStrict = importRowsPG(false), importRowsPG(true)

func importRowOne(d Dialect) string {
	return importRowsHead + `SELECT CAST($1 AS TEXT), CAST($2 AS INTEGER), 'created', CAST($3 AS TEXT), CAST($4 AS TEXT), ''` +
		importRowGuard(d, "$1", "$5") + ` ON CONFLICT DO NOTHING`
}

// importRowsPG records the rows of joined parts, their numbers, accounts
// and persons as arrays of Go types pgx knows in any mode. strict (sent
// with the COMMIT, where no check runs in Go) fails unless it recorded
// every row: a row with a result already, or an import no longer this
// worker's, is then an error (division by zero), as claimSeatsStrict's.
func importRowsPG(strict bool) func(parts [][]any) (string, []any) {
	q := importRowsHead + `SELECT CAST($1 AS TEXT), u.r, 'created', u.a, u.p, '' FROM unnest(CAST($2 AS INTEGER[]), CAST($3 AS TEXT[]), CAST($4 AS TEXT[])) AS u(r, a, p)` +
		importRowGuard(Postgres, "$1", "$5")
	if strict {
		q = `WITH r AS (` + q + ` RETURNING 1) SELECT 1 / CAST(count(*) = cardinality(CAST($2 AS INTEGER[])) AS INTEGER) FROM r`
	} else {
		q += ` ON CONFLICT DO NOTHING`
	}
	return func(parts [][]any) (string, []any) {
		rows, accounts, persons := make([]int32, len(parts)), make([]string, len(parts)), make([]string, len(parts))
		for i, a := range parts {
			rows[i], accounts[i], persons[i] = int32(a[1].(int)), a[2].(string), a[3].(string)
		}
		return q, []any{parts[0][0], rows, accounts, persons, parts[0][4]}
	}
}

// importRowsSQLite is importRowsPG's statement for SQLite, with anonymous
// parameters (WriteMany).
func importRowsSQLite(parts [][]any) (string, []any) {
	var b strings.Builder
	b.WriteString(importRowsHead + `SELECT ?, column1, 'created', column2, column3, '' FROM (VALUES `)
	args := make([]any, 0, 3*len(parts)+3)
	args = append(args, parts[0][0])
	for i, a := range parts {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("(?,?,?)")
		args = append(args, a[1], a[2], a[3])
	}
	b.WriteString(")" + importRowGuard(SQLite, "?", "?") + ` ON CONFLICT DO NOTHING`)
	return b.String(), append(args, parts[0][0], parts[0][4])
}

// ImportRows calls fn with the results of import id's rows, in their order.
func (t *Tx) ImportRows(ctx context.Context, id string, fn func(ImportRowRecord) error) error {
	rows, err := t.QueryContext(ctx, `SELECT row_num, result, account_id, person_id, problems FROM import_rows WHERE import_id = $1 ORDER BY row_num`, id)
	if err != nil {
		return fmt.Errorf("import rows: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r ImportRowRecord
		if err := rows.Scan(&r.Row, &r.Result, &r.AccountID, &r.PersonID, &r.Problems); err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

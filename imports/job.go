package imports

import (
	"bytes"
	"context"
	"io"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/imports/spreadsheet"
	"github.com/usherhq/usher/store"
)

// Job is an import as the API and the console show it: its file, state
// and progress. A queued job waits for a worker; a running one is a
// worker's; done, cancelled and failed are ends (a cancelled job is
// finished by the worker that notices: FinishedAt is set then).
type Job struct {
	ID         string    `json:"id"`
	State      string    `json:"state"`
	FileName   string    `json:"file_name"`
	FileSize   int64     `json:"file_size"`
	FileSHA256 string    `json:"file_sha256"`
	Format     string    `json:"format"`
	Rows       int       `json:"rows"`
	RowsDone   int       `json:"rows_done"`
	Created    int       `json:"created"`
	Skipped    int       `json:"skipped"`
	Refused    int       `json:"refused"`
	StartedBy  StartedBy `json:"started_by"`
	// Error is why a failed job failed or, while it runs, why the work
	// failed last and waits to be tried again (Failures times so far).
	Error      string     `json:"error,omitempty"`
	Failures   int        `json:"failures,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	// FileDeletedAt: the file was deleted, its retention over; the report
	// lists the rows' results without the file's cells.
	FileDeletedAt *time.Time `json:"file_deleted_at,omitempty"`
}

// StartedBy is who started an import: the actor's kind and id.
type StartedBy struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

// Ended reports a job that will change no more.
func (j Job) Ended() bool { return j.FinishedAt != nil }

// Percent is the share of rows done, 0 to 100.
func (j Job) Percent() int {
	if j.Rows == 0 {
		return 100
	}
	return j.RowsDone * 100 / j.Rows
}

func jobOf(r store.ImportRecord) Job {
	return Job{ID: r.ID, State: r.State, FileName: r.FileName, FileSize: r.FileSize, FileSHA256: r.FileSHA256, Format: r.Format,
		Rows: r.TotalRows, RowsDone: r.RowsDone, Created: r.Created, Skipped: r.Skipped, Refused: r.Refused,
		StartedBy: StartedBy{Kind: r.Actor.Kind, ID: r.Actor.ID}, Error: r.Error, Failures: r.Failures,
		CreatedAt: r.CreatedAt, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt, FileDeletedAt: r.FileDeletedAt}
}

// Start checks the shape of data (its format, the limits, the header: the
// refusals of a dry run about the whole file) and stores it with a queued
// job, which a Worker runs; the rows are checked and created there.
func (im *Importer) Start(ctx context.Context, actor usher.Actor, t usher.Tenant, name string, data []byte) (Job, error) {
	return im.StartFrom(ctx, actor, t, name, bytes.NewReader(data))
}

// StartFrom is Start of the file that body gives, as an upload does: the
// file goes to the database a chunk at a time as it arrives, hashed and
// counted on the way, then is read back from there to be checked; a file
// refused leaves nothing stored.
func (im *Importer) StartFrom(ctx context.Context, actor usher.Actor, t usher.Tenant, name string, body io.Reader) (Job, error) {
	if err := actor.Require(usher.AdminUser); err != nil {
		return Job{}, err
	}
	if t.DeactivatedAt != nil {
		return Job{}, usher.Forbidden("the tenant is deactivated")
	}
	id := store.NewID()
	n, sum, err := im.upload(ctx, id, body)
	if err != nil {
		return Job{}, err
	}
	rows, format := 0, ""
	err = read(ctx, storedFile{st: im.st, id: id, n: n}, im.Limits, func(sh *sheet) (spreadsheet.RowFunc, error) {
		format = sh.format
		return func(int, []string) error { rows++; return nil }, nil
	})
	if err == nil {
		rec := store.ImportRecord{ID: id, TenantID: t.ID, Actor: actor, FileName: name, FileSize: n,
			FileSHA256: sum, Format: format, TotalRows: rows}
		err = im.st.Write(ctx, func(tx *store.Tx) error { return tx.InsertImport(ctx, &rec) })
		if err == nil {
			return jobOf(rec), nil
		}
	}
	im.dropFile(ctx, id)
	return Job{}, err
}

// Job returns import id of t; another tenant's is not found.
func (im *Importer) Job(ctx context.Context, actor usher.Actor, t usher.Tenant, id string) (Job, error) {
	if err := actor.Require(usher.AdminUser); err != nil {
		return Job{}, err
	}
	r, err := im.st.Read().Import(ctx, t.ID, id)
	return jobOf(r), err
}

// Jobs lists t's imports, newest first.
func (im *Importer) Jobs(ctx context.Context, actor usher.Actor, t usher.Tenant, o store.ListOptions) ([]Job, string, error) {
	if err := actor.Require(usher.AdminUser); err != nil {
		return nil, "", err
	}
	rs, next, err := im.st.Read().Imports(ctx, t.ID, o)
	out := make([]Job, len(rs))
	for i, r := range rs {
		out[i] = jobOf(r)
	}
	return out, next, err
}

// Cancel stops import id of t: the rows created stay, the others are
// reported not imported. An import that ended is returned as it is.
func (im *Importer) Cancel(ctx context.Context, actor usher.Actor, t usher.Tenant, id string) (Job, error) {
	if err := actor.Require(usher.AdminUser); err != nil {
		return Job{}, err
	}
	var r store.ImportRecord
	err := im.st.Write(ctx, func(tx *store.Tx) error {
		var err error
		r, err = tx.CancelImport(ctx, t.ID, id)
		return err
	})
	return jobOf(r), err
}

// Import starts an import of data and runs it here, to its end, and
// returns its report: what a Worker does, for callers that wait (tests,
// benchmarks).
func (im *Importer) Import(ctx context.Context, actor usher.Actor, t usher.Tenant, name string, data []byte) (Report, error) {
	j, err := im.Start(ctx, actor, t, name, data)
	if err != nil {
		return Report{}, err
	}
	w := NewWorker(im, WorkerOptions{})
	if _, err := w.run(ctx, j.ID); err != nil {
		return Report{}, err
	}
	return im.Report(ctx, actor, t, j.ID)
}

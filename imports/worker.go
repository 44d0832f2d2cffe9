package imports

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/imports/spreadsheet"
	"github.com/usherhq/usher/internal/passes"
	"github.com/usherhq/usher/store"
)

// WorkerOptions tune a Worker; zero values take the defaults in brackets.
type WorkerOptions struct {
	Poll  time.Duration // between looks for a job [2s]
	Lease time.Duration // how long a job stays a worker's unless renewed [1m]
	Log   *slog.Logger  // [slog.Default()]
	// Retention is how long the file of a finished import is kept, for
	// its report [720h: 30 days]; the rows' results are kept after it.
	Retention time.Duration
}

// Uploads that never became an import (a replica that died while
// storing one) leave chunks that are deleted this long after.
const orphanedChunks = 24 * time.Hour

// expireEvery is how often a worker's passes delete the files kept long
// enough.
const expireEvery = 10 * time.Minute

// Worker runs imports. Run one per replica: a job is leased through the
// database, renewed while the worker works, and taken over by another
// worker when its lease runs out (its replica died). Each created row's
// result is written with its account, so a job taken over creates no row
// twice.
type Worker struct {
	im    *Importer
	o     WorkerOptions
	owner string
	// afterBatch, for tests, runs on a batch's goroutine once its
	// progress is written, before the batch takes its next rows, with the
	// rows recorded so far; an error stops the worker there as if it
	// died, still holding the lease.
	afterBatch func(done int) error
	// beforeCreate, for tests, runs when a batch's rows are checked and
	// about to be created; an error it returns is the batch's.
	beforeCreate func() error
	expired      time.Time // the last deletion of old files
}

// NewWorker returns a worker of im's store.
func NewWorker(im *Importer, o WorkerOptions) *Worker {
	if o.Poll <= 0 {
		o.Poll = 2 * time.Second
	}
	if o.Lease <= 0 {
		o.Lease = time.Minute
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Retention <= 0 {
		o.Retention = 30 * 24 * time.Hour
	}
	return &Worker{im: im, o: o, owner: "import-worker-" + store.NewID()}
}

// Why a job's work stops before its end.
var (
	errLost      = errors.New("the import's lease went to another worker")
	errCancelled = errors.New("the import was cancelled")
	errDied      = errors.New("the worker stopped as if it died (a test's hook)")
)

// Run works until ctx ends.
func (w *Worker) Run(ctx context.Context) {
	passes.Run(ctx, w.o.Poll, w.o.Log, "imports: worker", w.RunOnce)
}

// RunOnce leases one import that needs a worker and works on it until it
// ends or the worker loses it; false when there was none. Every few
// minutes it first deletes the files kept long enough.
func (w *Worker) RunOnce(ctx context.Context) (bool, error) {
	if time.Since(w.expired) >= expireEvery {
		w.expired = time.Now()
		if _, err := w.ExpireFiles(ctx); err != nil {
			w.o.Log.Warn("imports: old files not deleted", "err", err)
		}
	}
	return w.run(ctx, "")
}

// ExpireFiles deletes the files of the imports that finished more than
// the retention ago (their reports then list the rows' results without
// the file's cells), and the chunks of uploads that never became an
// import. It returns how many imports' files it deleted.
func (w *Worker) ExpireFiles(ctx context.Context) (int, error) {
	n := 0
	err := w.im.st.Write(ctx, func(tx *store.Tx) error {
		var err error
		n, err = tx.ExpireImportFiles(ctx, w.o.Retention, orphanedChunks)
		return err
	})
	if n > 0 {
		w.o.Log.Info("imports: deleted the files of finished imports", "imports", n, "retention", w.o.Retention)
	}
	return n, err
}

// run leases import id (any, if "") and works on it.
func (w *Worker) run(ctx context.Context, id string) (bool, error) {
	var j store.ImportRecord
	var ok bool
	err := w.im.st.Write(ctx, func(tx *store.Tx) error {
		var err error
		j, ok, err = tx.ClaimImport(ctx, w.owner, id, w.o.Lease)
		return err
	})
	if err != nil || !ok {
		return false, err
	}
	return true, w.work(ctx, j)
}

// work runs a leased job to its end, renewing the lease meanwhile.
func (w *Worker) work(ctx context.Context, j store.ImportRecord) error {
	jctx, stop := context.WithCancelCause(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); w.heartbeat(jctx, stop, j.ID) }()
	var err error
	if j.State == store.ImportRunning {
		err = w.rows(jctx, j)
	}
	stop(nil)
	wg.Wait()
	cause := context.Cause(jctx)
	switch {
	case errors.Is(err, errDied):
		return nil
	case errors.Is(cause, errLost), errors.Is(err, errLost):
		w.o.Log.Warn("imports: another worker took the import over", "import_id", j.ID)
		return nil
	case j.State == store.ImportCancelled, errors.Is(cause, errCancelled), errors.Is(err, errCancelled):
		return w.finish(ctx, j, store.ImportCancelled, "")
	case ctx.Err() != nil:
		// Shutting down: another replica may take the job at once.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		return w.im.st.Write(rctx, func(tx *store.Tx) error { return tx.ReleaseImport(rctx, j.ID, w.owner) })
	case err != nil && j.Failures+1 < maxFailures:
		// Not the rows' fault (their refusals are results): the database
		// out of reach, a failover. The import waits and is tried again,
		// by any replica; the rows created stay created.
		retry := retryAfter(j.Failures + 1)
		w.o.Log.Warn("imports: work on an import failed; it will be tried again", "import_id", j.ID, "tenant_id", j.TenantID,
			"failures", j.Failures+1, "retry_in", retry, "err", err)
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		return w.im.st.Write(rctx, func(tx *store.Tx) error {
			_, err := tx.DeferImport(rctx, j.ID, w.owner, tx.Now().Add(retry), clipError(err.Error()))
			return err
		})
	case err != nil:
		w.o.Log.Error("imports: import failed", "import_id", j.ID, "tenant_id", j.TenantID, "failures", j.Failures+1, "err", err)
		return w.finish(ctx, j, store.ImportFailed, err.Error())
	}
	return w.finish(ctx, j, store.ImportDone, "")
}

// maxFailures is how many times work on an import may fail for a reason
// other than its rows before the import fails.
const maxFailures = 5

// retryAfter is the wait before an import is tried again after its n-th
// failure: a minute, doubling, at most a quarter of an hour (15 minutes in
// all before the fifth fails it).
func retryAfter(n int) time.Duration {
	return min(time.Minute<<(n-1), 15*time.Minute)
}

// clipError keeps a stored error message short.
func clipError(msg string) string {
	if len(msg) > 500 {
		return strings.ToValidUTF8(msg[:500], "")
	}
	return msg
}

// heartbeat renews the lease a few times per its length, and stops the
// work when the lease is lost or the job cancelled.
func (w *Worker) heartbeat(ctx context.Context, stop context.CancelCauseFunc, id string) {
	t := time.NewTicker(w.o.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var state string
		var ok bool
		err := w.unstopped(ctx, func(ctx context.Context, tx *store.Tx) error {
			var err error
			state, ok, err = tx.RenewImport(ctx, id, w.owner, w.o.Lease)
			return err
		})
		switch {
		case err != nil:
			if ctx.Err() == nil {
				w.o.Log.Warn("imports: lease not renewed", "import_id", id, "err", err)
			}
		case !ok:
			stop(errLost)
		case state == store.ImportCancelled:
			stop(errCancelled)
		}
	}
}

// rows checks the job's rows, as the dry run does, and creates those to
// create, a batch at a time; rows with a result already keep it. The file
// is read twice: first for the identifiers that rows share (a compact key
// each), then a batch of rows at a time, so that memory does not grow
// with the file's rows.
func (w *Worker) rows(ctx context.Context, j store.ImportRecord) error {
	st := w.im.st
	t, err := st.Read().Tenant(ctx, j.TenantID)
	if err != nil {
		return err
	}
	// A job taken over counts what its rows' results say.
	if err := st.Write(ctx, func(tx *store.Tx) error { return tx.RecountImport(ctx, j.ID) }); err != nil {
		return err
	}
	var done rowSet
	err = st.Read().ImportRows(ctx, j.ID, func(r store.ImportRowRecord) error { done.add(r.Row); return nil })
	if err != nil {
		return err
	}
	if j.FileDeletedAt != nil {
		return fmt.Errorf("the import's file was deleted (%s) before its end", j.FileDeletedAt.Format(time.RFC3339))
	}
	src := storedFile{st: st, id: j.ID, n: j.FileSize}
	cat, err := loadCatalogues(ctx, st, t)
	if err != nil {
		return err
	}
	f, keys := &file{}, newKeyIndex(j.TotalRows)
	// The identifiers taken already are looked up in this first pass, a
	// few hundred at once, before any creation: PostgreSQL answered the
	// same lookups slowly (65–200 ms) while the batches' inserts ran. One
	// taken since is still found by its creation, and skipped.
	taken := map[string]bool{}
	var look []*row
	lookUp := func() error {
		got, err := w.im.taken(ctx, t, look)
		maps.Copy(taken, got)
		look = look[:0]
		return err
	}
	err = read(ctx, src, w.im.Limits, func(sh *sheet) (spreadsheet.RowFunc, error) {
		f.sh = sh
		return func(num int, cells []string) error {
			r := f.parse(cat, num, cells)
			keys.add(r)
			if done.has(num) {
				return nil
			}
			look = append(look, r)
			if len(look) < takenPerQuery {
				return nil
			}
			return lookUp()
		}, nil
	})
	if err == nil {
		err = lookUp()
	}
	if err != nil {
		return fmt.Errorf("reading the file: %w", err)
	}
	keys.seal()
	by := usher.Actor{Kind: usher.ActorImport, ID: j.ID, Source: j.Actor.Source}
	return w.batches(ctx, j.Actor, by, t, func(ctx context.Context, next func(*file) error) error {
		var part []*row
		err := read(ctx, src, w.im.Limits, func(sh *sheet) (spreadsheet.RowFunc, error) {
			f.sh = sh
			return func(num int, cells []string) error {
				if done.has(num) {
					return nil // what this import did to the row stays
				}
				r := f.parse(cat, num, cells)
				keys.apply(f, r)
				if part = append(part, r); len(part) < batchRows {
					return nil
				}
				defer func() { part = nil }()
				return next(&file{sh: sh, rows: part, taken: taken})
			}, nil
		})
		if err == nil && len(part) > 0 {
			err = next(&file{sh: f.sh, rows: part, taken: taken})
		}
		return err
	})
}

// batches checks and creates the batches that each gives to next, a few at
// once, so that more creations share the store's grouped commits. Their
// progress is recorded by one more goroutine, what waits merged into one
// write: a batch that waited for its progress's write (on PostgreSQL for
// the other batches' commits, which hold the import's row) left the
// store's writers idle.
func (w *Worker) batches(ctx context.Context, actor, by usher.Actor, t usher.Tenant, each func(ctx context.Context, next func(*file) error) error) error {
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	recordedRows := 0
	parts := make(chan *file)
	done := make(chan progress, importBatches)
	recorded := make(chan struct{})
	go func() {
		defer close(recorded)
		w.record(context.WithoutCancel(ctx), t.ID, by, done, stop)
	}()
	for range importBatches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for part := range parts {
				if ctx.Err() != nil {
					continue
				}
				// A batch under way is not broken off: a creation given up
				// may still commit with its group, after the job's end is
				// counted. The batches stop between themselves.
				p, err := w.batch(context.WithoutCancel(ctx), actor, by, t, part)
				if err != nil {
					stop(err)
					continue
				}
				if w.afterBatch == nil {
					done <- p
					continue
				}
				// A test's hook runs once this batch's progress is written,
				// before the batch takes its next rows.
				p.written = make(chan error, 1)
				done <- p
				err = <-p.written
				if err == nil {
					mu.Lock()
					recordedRows += p.counts.Done
					err = w.afterBatch(recordedRows)
					mu.Unlock()
				}
				if err != nil {
					stop(err)
				}
			}
		}()
	}
	err := each(ctx, func(part *file) error {
		select {
		case parts <- part:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	})
	close(parts)
	wg.Wait()
	close(done)
	<-recorded
	if cause := context.Cause(ctx); cause != nil {
		return cause
	}
	return err
}

// progress is what batches add to an import: their counts, and the
// results of their rows not created.
type progress struct {
	counts store.ImportCounts
	rows   []store.ImportRowRecord
	// written, when set, is told the outcome of the write that recorded it.
	written chan error
}

// record writes the progress of batches as it comes, merging what waits,
// until done is closed; the first error stops the import.
func (w *Worker) record(ctx context.Context, tenant string, by usher.Actor, done <-chan progress, stop context.CancelCauseFunc) {
	var failed error
	for p := range done {
		// Merge whatever else is waiting.
		told := []chan error{p.written}
	more:
		for {
			select {
			case q, ok := <-done:
				if !ok {
					break more
				}
				p.counts.Done += q.counts.Done
				p.counts.Created += q.counts.Created
				p.counts.Skipped += q.counts.Skipped
				p.counts.Refused += q.counts.Refused
				p.rows = append(p.rows, q.rows...)
				told = append(told, q.written)
			default:
				break more
			}
		}
		err := failed
		if err == nil {
			err = w.writeProgress(ctx, tenant, by, p)
		}
		for _, c := range told {
			if c != nil {
				c <- err
			}
		}
		if err != nil && failed == nil {
			failed = err
			stop(err)
		}
	}
}

// writeProgress adds p to the import's progress while the worker holds it
// and it runs: errLost when the worker no longer holds it, errCancelled
// when it was cancelled.
func (w *Worker) writeProgress(ctx context.Context, tenant string, by usher.Actor, p progress) error {
	return w.im.st.Write(ctx, func(tx *store.Tx) error {
		if ok, err := tx.AddImportProgress(ctx, by.ID, w.owner, p.counts); err != nil {
			return err
		} else if !ok {
			cur, err := tx.Import(ctx, tenant, by.ID)
			if err == nil && cur.LeaseOwner == w.owner && cur.State == store.ImportCancelled {
				return errCancelled
			}
			return errLost
		}
		return tx.InsertImportRows(ctx, by.ID, p.rows)
	})
}

// batch checks a batch's rows and creates those to create through
// provision, which records each with its account. It returns what the
// batch adds to the import's progress, the others' results with it.
func (w *Worker) batch(ctx context.Context, actor, by usher.Actor, t usher.Tenant, f *file) (progress, error) {
	var p progress
	if err := w.im.validate(ctx, actor, t, f, false); err != nil {
		return p, err
	}
	var create []*row
	for _, r := range f.rows {
		if r.res.Result == ResultCreate {
			create = append(create, r)
		}
	}
	if w.beforeCreate != nil {
		if err := w.beforeCreate(); err != nil {
			return p, err
		}
	}
	if err := w.im.create(ctx, by, t, f, create, w.owner); err != nil {
		return p, err
	}
	c := &p.counts
	for _, r := range f.rows {
		switch r.res.Result {
		case ResultCreated:
			c.Created++
		case ResultSkipped, ResultRefused:
			p.rows = append(p.rows, store.ImportRowRecord{Row: r.res.Row, Result: r.res.Result, Problems: problemsJSON(r.res.Problems)})
			if r.res.Result == ResultSkipped {
				c.Skipped++
			} else {
				c.Refused++
			}
		default:
			continue // another worker's result
		}
		c.Done++
	}
	return p, nil
}

// unstopped runs fn in a write that the end of ctx does not break off: a
// transaction abandoned halfway would hold the job's row locked until the
// database noticed, and another worker would pass the job by meanwhile.
func (w *Worker) unstopped(ctx context.Context, fn func(ctx context.Context, tx *store.Tx) error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.o.Lease/3)
	defer cancel()
	return w.im.st.Write(ctx, func(tx *store.Tx) error { return fn(ctx, tx) })
}

// finish records the job's end and audits it, with its counts, on behalf
// of who started it. A cancelled job stays cancelled.
func (w *Worker) finish(ctx context.Context, j store.ImportRecord, state, msg string) error {
	st := w.im.st
	t, err := st.Read().Tenant(ctx, j.TenantID)
	if err != nil {
		return err
	}
	// The counts, the end and its audit event in one transaction: a worker
	// that lost the import meanwhile records no end and no second event.
	lost := false
	err = st.Write(ctx, func(tx *store.Tx) error {
		if err := tx.RecountImport(ctx, j.ID); err != nil {
			return err
		}
		cur, err := tx.Import(ctx, j.TenantID, j.ID)
		if err != nil {
			return err
		}
		end := state
		if cur.State == store.ImportCancelled {
			end = store.ImportCancelled
		}
		ok, err := tx.FinishImport(ctx, j.ID, w.owner, end, msg)
		if lost = !ok; err != nil || lost {
			return err
		}
		return w.im.svc.AuditImportIn(ctx, tx, j.Actor, t, j.ID, map[string]string{
			"file_name": j.FileName, "file_size": strconv.FormatInt(j.FileSize, 10), "file_sha256": j.FileSHA256, "format": j.Format, "state": end,
			"rows": strconv.Itoa(cur.TotalRows), "created": strconv.Itoa(cur.Created), "skipped": strconv.Itoa(cur.Skipped), "refused": strconv.Itoa(cur.Refused),
		})
	})
	if err != nil {
		return fmt.Errorf("finishing import %s: %w", j.ID, err)
	}
	if lost {
		w.o.Log.Warn("imports: another worker took the import over", "import_id", j.ID)
	}
	return nil
}

// rowSet is a set of row numbers.
type rowSet []uint64

func (s *rowSet) add(n int) {
	for n/64 >= len(*s) {
		*s = append(*s, 0)
	}
	(*s)[n/64] |= 1 << (n % 64)
}

func (s rowSet) has(n int) bool { return n/64 < len(s) && s[n/64]&(1<<(n%64)) != 0 }

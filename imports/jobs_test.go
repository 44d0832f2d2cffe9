package imports_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/catalog"
	"github.com/usherhq/usher/imports"
	"github.com/usherhq/usher/store"
)

// people is a CSV of n people who can all be created.
func people(prefix string, n int) []byte {
	var b strings.Builder
	b.WriteString("First name,Last name,Email,Department,Job profile,Role,Language\n")
	for i := range n {
		fmt.Fprintf(&b, "P,%s%d,%s%d@example.com,Sales,Driver,Staff,en\n", prefix, i, prefix, i)
	}
	return []byte(b.String())
}

// seats gives the tenant's plan n seats.
func (e *env) seats(n int) {
	e.t.Helper()
	if _, err := catalog.New(e.st, e.svc).UpdatePlan(e.ctx, operator, e.tn, e.plan.ID, catalog.PlanInput{Seats: &n}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) job(id string) imports.Job {
	e.t.Helper()
	j, err := e.im.Job(e.ctx, admin, e.tn, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return j
}

func (e *env) report(id string) imports.Report {
	e.t.Helper()
	rep, err := e.im.Report(e.ctx, admin, e.tn, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return rep
}

// creations counts the account.created events of import id: one per
// account its rows made.
func (e *env) creations(id string) int {
	e.t.Helper()
	evs, _, err := e.st.Read().AuditEvents(e.ctx, e.tn.ID, store.AuditFilter{ActorID: id, Action: "account.created"}, store.ListOptions{Limit: 500})
	if err != nil {
		e.t.Fatal(err)
	}
	return len(evs)
}

// wantEachOnce checks that every row of import id was created, once.
func (e *env) wantEachOnce(id string, rows int) {
	e.t.Helper()
	rep := e.report(id)
	seen := map[string]bool{}
	for _, x := range rep.Results {
		if x.Result != imports.ResultCreated || x.AccountID == "" || seen[x.AccountID] {
			e.t.Errorf("row %d: %s %q %v", x.Row, x.Result, x.AccountID, x.Problems)
		}
		seen[x.AccountID] = true
	}
	j := e.job(id)
	if len(rep.Results) != rows || e.count() != rows || e.creations(id) != rows || j.Created != rows || j.RowsDone != rows || j.State != "done" {
		e.t.Errorf("%d results, %d accounts, %d creations of %d rows; job %+v", len(rep.Results), e.count(), e.creations(id), rows, j)
	}
}

func testJobDone(t *testing.T, e *env) {
	if _, err := e.im.Import(e.ctx, admin, e.tn, "old.csv", []byte("First name,Last name,Email,Department,Job profile,Role\nOld,Timer,old@example.com,Sales,Driver,Staff\n")); err != nil {
		t.Fatal(err)
	}
	csv := "First name,Last name,Email,Department,Job profile,Role,Language\n" +
		"Ada,Lovelace,ada@example.com,Sales,Driver,Staff,en\n" +
		"Old,Again,old@example.com,Sales,Driver,Staff,en\n" +
		"Bob,Twice,bob@example.com,Sales,Driver,Staff,en\n" +
		"Bob,Again,bob@example.com,Sales,Driver,Staff,en\n" +
		"Cy,Young,cy@example.com,Sales,Driver,Staff,en\n"
	j, err := e.im.Start(e.ctx, admin, e.tn, "people.csv", []byte(csv))
	if err != nil {
		t.Fatal(err)
	}
	if j.State != "queued" || j.Rows != 5 || j.FileName != "people.csv" || j.FileSize != int64(len(csv)) || len(j.FileSHA256) != 64 || j.StartedBy.ID != admin.ID {
		t.Fatalf("%+v", j)
	}
	w := imports.NewWorker(e.im, imports.WorkerOptions{})
	if did, err := w.RunOnce(e.ctx); !did || err != nil {
		t.Fatal(did, err)
	}
	if did, err := w.RunOnce(e.ctx); did || err != nil {
		t.Fatalf("a finished import was run again: %v %v", did, err)
	}
	j = e.job(j.ID)
	if j.State != "done" || j.RowsDone != 5 || j.Created != 2 || j.Skipped != 1 || j.Refused != 2 || j.FinishedAt == nil || j.StartedAt == nil || j.Percent() != 100 {
		t.Errorf("%+v", j)
	}
	wantLines(t, e.report(j.ID),
		"row 2: created",
		`skipped: row 3, column "Email": old@example.com already signs in to an account of this tenant; an import does not change existing people`,
		`refused: row 4, column "Email": also used by another person in this file, row 5`,
		`refused: row 5, column "Email": already used by another person in this file, row 4`,
		"row 6: created")
	evs, _, err := e.st.Read().AuditEvents(e.ctx, e.tn.ID, store.AuditFilter{TargetID: j.ID, Action: "import.completed"}, store.ListOptions{})
	if err != nil || len(evs) != 1 {
		t.Fatalf("%d audit events of the import: %v", len(evs), err)
	}
	d := evs[0].Details
	if evs[0].ActorID != admin.ID || d["file_name"] != "people.csv" || d["file_sha256"] != j.FileSHA256 || d["created"] != "2" || d["skipped"] != "1" ||
		d["refused"] != "2" || d["rows"] != "5" || d["state"] != "done" {
		t.Errorf("%+v", evs[0])
	}
	list, _, err := e.im.Jobs(e.ctx, admin, e.tn, store.ListOptions{})
	if err != nil || len(list) != 2 || list[0].ID != j.ID {
		t.Errorf("history, newest first: %+v %v", list, err)
	}
}

// testTwoWorkers: workers running at once take each job once.
func testTwoWorkers(t *testing.T, e *env) {
	defer imports.SetBatchRows(5)()
	e.seats(100)
	var ids []string
	for _, p := range []string{"a", "b", "c"} {
		j, err := e.im.Start(e.ctx, admin, e.tn, p+".csv", people(p, 20))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, j.ID)
	}
	var wg sync.WaitGroup
	jobs := make([]int, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := imports.NewWorker(e.im, imports.WorkerOptions{})
			for {
				did, err := w.RunOnce(e.ctx)
				if err != nil {
					t.Error(err)
				}
				if !did {
					return
				}
				jobs[i]++
			}
		}()
	}
	wg.Wait()
	if jobs[0]+jobs[1] != 3 {
		t.Errorf("the workers ran %v jobs, not 3 between them", jobs)
	}
	if n := e.count(); n != 60 {
		t.Errorf("%d accounts of 60 rows", n)
	}
	for _, id := range ids {
		if n := e.creations(id); n != 20 {
			t.Errorf("import %s: %d creations of 20 rows", id, n)
		}
	}
}

// testTakeOver: a worker dies in the middle of a job; another cannot take
// it while the lease holds, then does and finishes it, each row created
// once and none reported skipped as someone who existed.
func testTakeOver(t *testing.T, e *env) {
	defer imports.SetBatchRows(4)()
	e.seats(100)
	j, err := e.im.Start(e.ctx, admin, e.tn, "people.csv", people("p", 30))
	if err != nil {
		t.Fatal(err)
	}
	first := imports.NewWorker(e.im, imports.WorkerOptions{Lease: time.Minute})
	imports.SetAfterBatch(first, func(done int) error {
		if done >= 8 {
			return imports.ErrDied
		}
		return nil
	})
	if did, err := first.RunOnce(e.ctx); !did || err != nil {
		t.Fatal(did, err)
	}
	j = e.job(j.ID)
	if j.State != "running" || j.RowsDone < 8 || j.RowsDone >= 30 {
		t.Fatalf("after the first worker died: %+v", j)
	}
	e.takenOverAfter(2*time.Minute, "while its lease held")
	e.wantEachOnce(j.ID, 30)
}

// takenOverAfter checks that another worker does not take the job now,
// while what holds it back (a lease, a retry's wait) lasts, and that it
// takes it and runs it to its end once the clock moved by d.
func (e *env) takenOverAfter(d time.Duration, holding string) {
	e.t.Helper()
	other := imports.NewWorker(e.im, imports.WorkerOptions{Lease: time.Minute})
	if did, err := other.RunOnce(e.ctx); did || err != nil {
		e.t.Fatalf("a job was taken %s: %v %v", holding, did, err)
	}
	e.skew.Add(int64(d))
	if did, err := other.RunOnce(e.ctx); !did || err != nil {
		e.t.Fatal(did, err)
	}
}

// smallJob starts an import of n people (emails p0@… on) that workers
// take in batches of 4 rows, one batch at a time, and returns it with a
// worker whose leases last a minute.
func (e *env) smallJob(n int) (imports.Job, *imports.Worker) {
	e.t.Helper()
	e.t.Cleanup(imports.SetBatchRows(4))
	e.t.Cleanup(imports.SetBatches(1))
	e.seats(100)
	j, err := e.im.Start(e.ctx, admin, e.tn, "people.csv", people("p", n))
	if err != nil {
		e.t.Fatal(err)
	}
	return j, imports.NewWorker(e.im, imports.WorkerOptions{Lease: time.Minute})
}

// testLeaseLost: a worker that stalls past its lease finds, when it goes
// on, that another took the job over and finished it; it stops without
// creating a row twice or recording a result over the other's.
func testLeaseLost(t *testing.T, e *env) {
	j, slow := e.smallJob(20)
	took := false
	imports.SetAfterBatch(slow, func(int) error {
		if took {
			return nil
		}
		took = true
		e.skew.Add(int64(2 * time.Minute))
		other := imports.NewWorker(e.im, imports.WorkerOptions{Lease: time.Minute})
		if did, err := other.RunOnce(e.ctx); !did || err != nil {
			t.Errorf("the other worker: %v %v", did, err)
		}
		return nil
	})
	if did, err := slow.RunOnce(e.ctx); !did || err != nil {
		t.Fatal(did, err)
	}
	e.wantEachOnce(j.ID, 20)
}

// testLeaseLostMidBatch: a worker stalls past its lease with a batch
// checked and about to be created; meanwhile the import is cancelled, and
// another worker takes it over and finishes it. When the first goes on,
// its batch creates nothing: the finished import's counts, its audit and
// its report stay the accounts that exist.
func testLeaseLostMidBatch(t *testing.T, e *env) {
	j, slow := e.smallJob(20)
	batches := 0
	imports.SetBeforeCreate(slow, func() error {
		if batches++; batches != 2 {
			return nil
		}
		e.skew.Add(int64(2 * time.Minute))
		if _, err := e.im.Cancel(e.ctx, admin, e.tn, j.ID); err != nil {
			t.Error(err)
		}
		other := imports.NewWorker(e.im, imports.WorkerOptions{Lease: time.Minute})
		if did, err := other.RunOnce(e.ctx); !did || err != nil {
			t.Errorf("the other worker: %v %v", did, err)
		}
		if j := e.job(j.ID); !j.Ended() {
			t.Errorf("the other worker left the import %+v", j)
		}
		return nil
	})
	if did, err := slow.RunOnce(e.ctx); !did || err != nil {
		t.Fatal(did, err)
	}
	e.wantCancelledWith(t, j.ID, 4)
}

// wantCancelledWith checks that import id ended cancelled with n rows
// created: in its report, its counts, the accounts and the creations
// audited.
func (e *env) wantCancelledWith(t *testing.T, id string, n int) {
	t.Helper()
	j := e.job(id)
	created := 0
	for _, x := range e.report(id).Results {
		if x.Result == imports.ResultCreated {
			created++
		}
	}
	if j.State != "cancelled" || created != n || j.Created != n || e.count() != n || e.creations(id) != n {
		t.Errorf("job %+v: %d rows created in the report, %d accounts, %d creations audited; want %d each", j, created, e.count(), e.creations(id), n)
	}
}

// testLeaseLostAtFinish: a worker stalls past its lease after its last
// batch; another takes the import over and finishes it. The first, going
// on to finish, records no second end and no second completion event.
func testLeaseLostAtFinish(t *testing.T, e *env) {
	j, slow := e.smallJob(8)
	imports.SetAfterBatch(slow, func(done int) error {
		if done < 8 {
			return nil
		}
		e.skew.Add(int64(2 * time.Minute))
		other := imports.NewWorker(e.im, imports.WorkerOptions{Lease: time.Minute})
		if did, err := other.RunOnce(e.ctx); !did || err != nil {
			t.Errorf("the other worker: %v %v", did, err)
		}
		return nil
	})
	if did, err := slow.RunOnce(e.ctx); !did || err != nil {
		t.Fatal(did, err)
	}
	evs, _, err := e.st.Read().AuditEvents(e.ctx, e.tn.ID, store.AuditFilter{TargetID: j.ID, Action: "import.completed"}, store.ListOptions{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Details["created"] != "8" || evs[0].Details["state"] != "done" {
		t.Errorf("completion events: %+v", evs)
	}
	e.wantEachOnce(j.ID, 8)
}

// testRetried: work on an import that fails for a reason other than its
// rows (the database out of reach) gives the import back to be tried again
// later, by any worker, with the rows created kept; after maxFailures such
// failures the import fails.
func testRetried(t *testing.T, e *env) {
	j, w := e.smallJob(12)
	batches := 0
	imports.SetBeforeCreate(w, func() error {
		if batches++; batches == 2 {
			return errors.New("connection refused")
		}
		return nil
	})
	if did, err := w.RunOnce(e.ctx); !did || err != nil {
		t.Fatal(did, err)
	}
	j = e.job(j.ID)
	if j.State != "running" || j.Ended() || j.Created != 4 || j.Failures != 1 || !strings.Contains(j.Error, "connection refused") {
		t.Fatalf("after a failure: %+v", j)
	}
	// Not before its time; then any worker goes on with it.
	e.takenOverAfter(61*time.Second, "again at once after a failure")
	e.wantEachOnce(j.ID, 12)
	if j := e.job(j.ID); j.Error != "" {
		t.Errorf("the import done still says %q", j.Error)
	}

	// A failure that stays fails the import after maxFailures tries.
	j, err := e.im.Start(e.ctx, admin, e.tn, "more.csv", people("q", 8))
	if err != nil {
		t.Fatal(err)
	}
	broken := imports.NewWorker(e.im, imports.WorkerOptions{Lease: time.Minute})
	imports.SetBeforeCreate(broken, func() error { return errors.New("connection refused") })
	for try := 1; try <= 5; try++ {
		if did, err := broken.RunOnce(e.ctx); !did || err != nil {
			t.Fatalf("try %d: %v %v", try, did, err)
		}
		if j = e.job(j.ID); try < 5 && (j.Ended() || j.Failures != try) {
			t.Fatalf("after try %d: %+v", try, j)
		}
		e.skew.Add(int64(16 * time.Minute))
	}
	if j.State != "failed" || !j.Ended() || !strings.Contains(j.Error, "connection refused") || e.count() != 12 {
		t.Errorf("after five failures: %+v, %d accounts", j, e.count())
	}
}

// testShutdown: a worker that stops (its replica shutting down) gives its
// job back, and another takes it over at once, not after the lease.
func testShutdown(t *testing.T, e *env) {
	defer imports.SetBatchRows(4)()
	e.seats(100)
	j, err := e.im.Start(e.ctx, admin, e.tn, "people.csv", people("p", 30))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	stopping := imports.NewWorker(e.im, imports.WorkerOptions{Lease: time.Hour})
	imports.SetAfterBatch(stopping, func(int) error { cancel(); return nil })
	stopping.Run(ctx)
	if j = e.job(j.ID); j.State != "running" || j.Ended() {
		t.Fatalf("after the worker stopped: %+v", j)
	}
	if did, err := imports.NewWorker(e.im, imports.WorkerOptions{}).RunOnce(e.ctx); !did || err != nil {
		t.Fatalf("the job given back was not taken at once: %v %v", did, err)
	}
	e.wantEachOnce(j.ID, 30)
}

func testCancel(t *testing.T, e *env) {
	j, err := e.im.Start(e.ctx, admin, e.tn, "people.csv", people("p", 3))
	if err != nil {
		t.Fatal(err)
	}
	if j, err = e.im.Cancel(e.ctx, admin, e.tn, j.ID); err != nil || j.State != "cancelled" || j.Ended() {
		t.Fatalf("%+v %v", j, err)
	}
	if did, err := imports.NewWorker(e.im, imports.WorkerOptions{}).RunOnce(e.ctx); !did || err != nil {
		t.Fatal(did, err)
	}
	if j = e.job(j.ID); j.State != "cancelled" || !j.Ended() || j.Created != 0 || e.count() != 0 {
		t.Fatalf("%+v", j)
	}
	wantLines(t, e.report(j.ID), "not imported: row 2: not imported: cancelled", "not imported: row 3: not imported: cancelled", "not imported: row 4: not imported: cancelled")
	if again, err := e.im.Cancel(e.ctx, admin, e.tn, j.ID); err != nil || again.State != "cancelled" || again.FinishedAt == nil {
		t.Errorf("cancelling an ended import: %+v %v", again, err)
	}
}

// testCancelRunning: rows created before the cancel stay; the others are
// not imported, and the report says so.
func testCancelRunning(t *testing.T, e *env) {
	defer imports.SetBatchRows(3)()
	e.seats(100)
	j, err := e.im.Start(e.ctx, admin, e.tn, "people.csv", people("p", 40))
	if err != nil {
		t.Fatal(err)
	}
	w := imports.NewWorker(e.im, imports.WorkerOptions{})
	var once sync.Once
	imports.SetAfterBatch(w, func(int) error {
		once.Do(func() {
			if _, err := e.im.Cancel(e.ctx, admin, e.tn, j.ID); err != nil {
				t.Error(err)
			}
		})
		return nil
	})
	if did, err := w.RunOnce(e.ctx); !did || err != nil {
		t.Fatal(did, err)
	}
	j = e.job(j.ID)
	rep := e.report(j.ID)
	created, not := 0, 0
	for _, x := range rep.Results {
		switch {
		case x.Result == imports.ResultCreated:
			created++
		case x.Result == imports.ResultNotImported && x.Problems[0].Text == fmt.Sprintf("row %d: not imported: cancelled", x.Row):
			not++
		default:
			t.Errorf("%+v", x)
		}
	}
	if j.State != "cancelled" || !j.Ended() || created < 3 || created+not != 40 || not == 0 || j.Created != created || e.count() != created {
		t.Errorf("job %+v: %d created, %d not imported, %d accounts", j, created, not, e.count())
	}
}

// testCancelMidBatch: an import cancelled while a batch's rows are being
// created creates none of them: the rows' records refuse an import no
// longer running, so the batch under way creates nothing.
func testCancelMidBatch(t *testing.T, e *env) {
	defer imports.SetBatchRows(3)()
	defer imports.SetBatches(1)()
	e.seats(100)
	j, err := e.im.Start(e.ctx, admin, e.tn, "people.csv", people("p", 12))
	if err != nil {
		t.Fatal(err)
	}
	w := imports.NewWorker(e.im, imports.WorkerOptions{})
	batches := 0
	imports.SetBeforeCreate(w, func() error {
		if batches++; batches == 2 {
			if _, err := e.im.Cancel(e.ctx, admin, e.tn, j.ID); err != nil {
				t.Error(err)
			}
		}
		return nil
	})
	if did, err := w.RunOnce(e.ctx); !did || err != nil {
		t.Fatal(did, err)
	}
	e.wantCancelledWith(t, j.ID, 3) // the first batch's
}

// testJobReports: the report as CSV and XLSX, line by line, the file's
// values as written (formulas defused in CSV, text in XLSX).
func testJobReports(t *testing.T, e *env) {
	csv := "First name,Last name,Email,Department,Job profile,Role,Language\n" +
		"=1+2,Lovelace,ada@example.com,Sales,Driver,Staff,en\n" +
		"Bob,Nobody,bob@example.com,Nowhere,Driver,Staff,en\n"
	rep, err := e.im.Import(e.ctx, admin, e.tn, "people.csv", []byte(csv))
	if err != nil {
		t.Fatal(err)
	}
	acct := rep.Results[0].AccountID
	want := []string{
		"First name,Last name,Email,Department,Job profile,Role,Language,usher: row,usher: result,usher: problems,usher: account id",
		"'=1+2,Lovelace,ada@example.com,Sales,Driver,Staff,en,2,created,," + acct,
		`Bob,Nobody,bob@example.com,Nowhere,Driver,Staff,en,3,refused,"row 3, column ""Department"": ""Nowhere"" is not one of the tenant's departments; choose one from the drop-down list",`,
	}
	b, err := e.im.ReportFile(e.ctx, admin, e.tn, rep.ID, "csv")
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(strings.TrimPrefix(string(b), "\uFEFF"), "\n"), "\n")
	if !slices.Equal(got, want) {
		t.Errorf("CSV report:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	b, err = e.im.ReportFile(e.ctx, admin, e.tn, rep.ID, "xlsx")
	if err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := f.GetRows(f.GetSheetName(0))
	if err != nil {
		t.Fatal(err)
	}
	wantX := [][]string{
		{"First name", "Last name", "Email", "Department", "Job profile", "Role", "Language", "usher: row", "usher: result", "usher: problems", "usher: account id"},
		{"=1+2", "Lovelace", "ada@example.com", "Sales", "Driver", "Staff", "en", "2", "created", "", acct},
		{"Bob", "Nobody", "bob@example.com", "Nowhere", "Driver", "Staff", "en", "3", "refused", `row 3, column "Department": "Nowhere" is not one of the tenant's departments; choose one from the drop-down list`},
	}
	if len(rows) != len(wantX) {
		t.Fatalf("XLSX report: %q", rows)
	}
	for i := range rows {
		if !slices.Equal(rows[i], wantX[i]) {
			t.Errorf("XLSX report row %d: %q, want %q", i+1, rows[i], wantX[i])
		}
	}
	if formula, _ := f.GetCellFormula(f.GetSheetName(0), "A2"); formula != "" {
		t.Errorf("the report made a formula of a value: %q", formula)
	}
}

// testJobOtherTenant: another tenant's import is not found, whatever is
// asked of it.
func testJobOtherTenant(t *testing.T, e *env) {
	rep, err := e.im.Import(e.ctx, admin, e.tn, "people.csv", people("p", 1))
	if err != nil {
		t.Fatal(err)
	}
	other := e.tenant("other")
	for name, call := range map[string]func() error{
		"job":    func() error { _, err := e.im.Job(e.ctx, admin, other, rep.ID); return err },
		"report": func() error { _, err := e.im.Report(e.ctx, admin, other, rep.ID); return err },
		"file":   func() error { _, err := e.im.ReportFile(e.ctx, admin, other, rep.ID, "csv"); return err },
		"cancel": func() error { _, err := e.im.Cancel(e.ctx, admin, other, rep.ID); return err },
	} {
		if err := call(); !errors.Is(err, usher.ErrNotFound) {
			t.Errorf("%s of another tenant's import: %v", name, err)
		}
	}
	if list, _, err := e.im.Jobs(e.ctx, admin, other, store.ListOptions{}); err != nil || len(list) != 0 {
		t.Errorf("another tenant's history: %+v %v", list, err)
	}
}

package imports_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/usherhq/usher/imports"
	"github.com/usherhq/usher/store"
)

// chunks counts the stored chunks of import id's file, and their bytes.
func (e *env) chunks(id string) (n int, size int64) {
	e.t.Helper()
	err := e.st.Read().QueryRowContext(e.ctx, `SELECT count(*), COALESCE(sum(length(data)), 0) FROM import_file_chunks WHERE import_id = $1`, id).Scan(&n, &size)
	if err != nil {
		e.t.Fatal(err)
	}
	return n, size
}

// allChunks counts every stored chunk.
func (e *env) allChunks() int {
	e.t.Helper()
	n := 0
	if err := e.st.Read().QueryRowContext(e.ctx, `SELECT count(*) FROM import_file_chunks`).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// testChunks: a file of many chunks is stored whole, hashed as sent, and
// read back through the chunks by the worker and the report.
func testChunks(t *testing.T, e *env) {
	defer imports.SetChunkSize(1000)()
	e.seats(300)
	data := people("c", 300) // about 17 kB: 17 chunks
	j, err := e.im.StartFrom(e.ctx, admin, e.tn, "people.csv", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	n, size := e.chunks(j.ID)
	if n != (len(data)+999)/1000 || size != int64(len(data)) || j.FileSize != int64(len(data)) || j.FileSHA256 != hex.EncodeToString(sum[:]) || j.Rows != 300 {
		t.Fatalf("%d chunks of %d bytes for %d bytes; job %+v", n, size, len(data), j)
	}
	if did, err := imports.NewWorker(e.im, imports.WorkerOptions{}).RunOnce(e.ctx); !did || err != nil {
		t.Fatal(did, err)
	}
	e.wantEachOnce(j.ID, 300)
	b, err := e.im.ReportFile(e.ctx, admin, e.tn, j.ID, "csv")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "P,c299,c299@example.com") || strings.Count(string(b), "\n") != 301 {
		t.Errorf("the report misses rows: %d lines", strings.Count(string(b), "\n"))
	}
}

// testTooLarge: a file over the limit is refused while it streams, and
// nothing of it stays stored; so does a file refused for its content.
func testTooLarge(t *testing.T, e *env) {
	defer imports.SetChunkSize(1000)()
	small := imports.New(e.st, e.svc)
	small.Limits.MaxBytes = 5000
	data := people("t", 200) // 11 kB
	_, err := small.StartFrom(e.ctx, admin, e.tn, "big.csv", bytes.NewReader(data))
	wantRefused(t, err, "the file is larger than the limit of 5000 bytes")
	_, err = small.DryRunFrom(e.ctx, admin, e.tn, bytes.NewReader(data))
	wantRefused(t, err, "the file is larger than the limit of 5000 bytes")
	_, err = e.im.StartFrom(e.ctx, admin, e.tn, "bad.csv", strings.NewReader(strings.Repeat("First name,Shoe size\n", 100)))
	wantRefused(t, err, `"Shoe size" is not a column usher knows`)
	if n := e.allChunks(); n != 0 {
		t.Errorf("%d chunks stored of refused files", n)
	}
	if list, _, err := e.im.Jobs(e.ctx, admin, e.tn, store.ListOptions{}); err != nil || len(list) != 0 {
		t.Errorf("imports of refused files: %+v %v", list, err)
	}
}

// testXLSXStream: a workbook stored in many chunks is read through them:
// its check at Start, the worker and the report.
func testXLSXStream(t *testing.T, e *env) {
	defer imports.SetChunkSize(4096)()
	e.seats(400)
	f := excelize.NewFile()
	sw, err := f.NewStreamWriter("Sheet1")
	if err != nil {
		t.Fatal(err)
	}
	sw.SetRow("A1", []any{"First name", "Last name", "Email", "Department", "Job profile", "Role", "Language"})
	for i := range 400 {
		cell, _ := excelize.CoordinatesToCellName(1, i+2)
		sw.SetRow(cell, []any{"X", fmt.Sprintf("x%d", i), fmt.Sprintf("x%d@example.com", i), "Sales", "Driver", "Staff", "en"})
	}
	if err := sw.Flush(); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := f.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	j, err := e.im.StartFrom(e.ctx, admin, e.tn, "people.xlsx", bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := e.chunks(j.ID); n < 3 || j.Format != "xlsx" || j.Rows != 400 {
		t.Fatalf("%d chunks; %+v", n, j)
	}
	if did, err := imports.NewWorker(e.im, imports.WorkerOptions{}).RunOnce(e.ctx); !did || err != nil {
		t.Fatal(did, err)
	}
	e.wantEachOnce(j.ID, 400)
	rep, err := e.im.DryRunFrom(e.ctx, admin, e.tn, bytes.NewReader(buf.Bytes()))
	if err != nil || rep.Rows != 400 || rep.Skipped != 400 {
		t.Errorf("the dry run of the same workbook: %d rows, %d skipped, %v", rep.Rows, rep.Skipped, err)
	}
}

// testRetention: the pass deletes the files of imports finished longer
// ago than the retention, and only those, and the chunks of uploads that
// never became an import; a report without its file lists the results.
func testRetention(t *testing.T, e *env) {
	e.seats(20)
	run := func(name string, data []byte) string {
		j, err := e.im.Start(e.ctx, admin, e.tn, name, data)
		if err != nil {
			t.Fatal(err)
		}
		if did, err := imports.NewWorker(e.im, imports.WorkerOptions{}).RunOnce(e.ctx); !did || err != nil {
			t.Fatal(did, err)
		}
		return j.ID
	}
	day := int64(24 * time.Hour)
	old := run("old.csv", []byte("First name,Last name,Email,Department,Job profile,Role,Language\nA,B,ab@example.com,Sales,Driver,Staff,en\nC,D,bad-email,Sales,Driver,Staff,en\n"))
	e.skew.Add(20 * day)
	recent := run("recent.csv", people("r", 3))
	// An upload a replica never finished: chunks without an import.
	if err := e.st.Write(e.ctx, func(tx *store.Tx) error { return tx.InsertImportChunk(e.ctx, "orphan", 0, []byte("First name\n")) }); err != nil {
		t.Fatal(err)
	}
	e.skew.Add(11 * day) // old finished 31 days ago, recent 11, the orphan 11
	w := imports.NewWorker(e.im, imports.WorkerOptions{Retention: 30 * 24 * time.Hour})
	if n, err := w.ExpireFiles(e.ctx); n != 1 || err != nil {
		t.Fatalf("%d files deleted: %v", n, err)
	}
	if n, _ := e.chunks(old); n != 0 {
		t.Errorf("the old import's file has %d chunks left", n)
	}
	if n, _ := e.chunks(recent); n != 1 {
		t.Errorf("the recent import's file has %d chunks", n)
	}
	if n, _ := e.chunks("orphan"); n != 0 {
		t.Errorf("an orphan upload's chunks stayed %d", n)
	}
	if j := e.job(old); j.FileDeletedAt == nil || e.job(recent).FileDeletedAt != nil {
		t.Errorf("file_deleted_at: %v, %v", j.FileDeletedAt, e.job(recent).FileDeletedAt)
	}
	if n, err := w.ExpireFiles(e.ctx); n != 0 || err != nil {
		t.Errorf("deleted again: %d %v", n, err)
	}
	rep := e.report(old)
	if len(rep.Columns) != 0 || len(rep.Results) != 2 || rep.Results[0].Result != "created" || rep.Results[0].AccountID == "" ||
		rep.Results[1].Result != "refused" || len(rep.Results[1].Problems) == 0 || rep.Created != 1 || rep.Refused != 1 {
		t.Errorf("the report without its file: %+v", rep)
	}
	b, err := e.im.ReportFile(e.ctx, admin, e.tn, old, "csv")
	if err != nil || !strings.HasPrefix(string(b), "\uFEFFusher: row,usher: result,usher: problems,usher: account id\n2,created,,") {
		t.Errorf("the report file without its file: %q %v", b, err)
	}
	if rep := e.report(recent); len(rep.Results) != 3 || len(rep.Columns) != 7 {
		t.Errorf("the recent report: %+v", rep)
	}
}

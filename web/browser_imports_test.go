package web

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/usherhq/usher/catalog"
	"github.com/usherhq/usher/imports"
	"github.com/usherhq/usher/internal/browsertest"
	"github.com/usherhq/usher/store"
)

// TestBrowserConsoleImport: an administrator finds the import page,
// downloads the Excel template, fills it in, checks it (nothing created),
// sees every problem, imports it, watches its progress, and downloads what
// happened to each row.
func TestBrowserConsoleImport(t *testing.T) {
	w := newBrowserWorld(t)
	ctx := context.Background()
	seats := 12000
	if _, err := catalog.New(w.st, w.svc).UpdatePlan(ctx, opActor, w.tenant, w.plan.ID, catalog.PlanInput{Seats: &seats}); err != nil {
		t.Fatal(err)
	}
	p := consoleAdmin(t, w)
	p.ClickLink("Import people")
	p.WantH1("Import people")

	// The template, downloaded in the browser's session, filled in as a
	// person would: the example row replaced, rows below it, two with
	// problems.
	status, data := p.Download("Excel template (.xlsx)")
	if status != 200 {
		t.Fatalf("the template: %d %s", status, data)
	}
	f, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("the template is no workbook: %v", err)
	}
	head, err := f.GetRows("People")
	if err != nil || len(head) != 2 {
		t.Fatalf("the template's rows: %q %v", head, err)
	}
	col := map[string]int{}
	for i, h := range head[0] {
		col[strings.TrimSuffix(h, " *")] = i + 1
	}
	if col["First name"] == 0 || col["Last name"] == 0 || col["Email"] == 0 {
		t.Fatalf("the template's header: %q", head[0])
	}
	const rows = 10000
	set := func(row int, first, last, email string) {
		for name, v := range map[string]string{"First name": first, "Last name": last, "Email": email} {
			cell, _ := excelize.CoordinatesToCellName(col[name], row)
			if err := f.SetCellStr("People", cell, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := range rows {
		set(i+2, "Ima", fmt.Sprintf("Port %d", i), fmt.Sprintf("ima%d@example.com", i))
	}
	for c := col["Email"] + 1; c <= len(head[0]); c++ { // the example row's other cells
		cell, _ := excelize.CoordinatesToCellName(c, 2)
		f.SetCellStr("People", cell, "")
	}
	set(rows, "Dup", "One", "dup@example.com")
	set(rows+1, "", "Two", "dup@example.com")
	file := filepath.Join(t.TempDir(), "people.xlsx")
	if err := f.SaveAs(file); err != nil {
		t.Fatal(err)
	}
	f.Close()

	p.Upload("File (.xlsx or .csv)", file)
	p.Click("Check the file")
	p.WantH1("Import people")
	p.WantText("What the import would do: people.xlsx", fmt.Sprintf("%d rows: %d to create, 0 skipped, 2 refused.", rows, rows-2),
		fmt.Sprintf(`row %d, column "Email": also used by another person in this file, row %d`, rows, rows+1),
		fmt.Sprintf(`row %d, column "First name *": is required in this tenant`, rows+1))
	// The rows with problems come first, before the first rows to create
	// and a note of the rest.
	if got := browsertest.Eval[string](p, `[...document.querySelectorAll('table.stack tbody tr')].slice(0, 3).map(r => r.cells[0].innerText + ' ' + r.cells[1].innerText).join('; ')`); got != fmt.Sprintf("%d refused; %d refused; 2 to create", rows, rows+1) {
		t.Errorf("the check's first rows: %s", got)
	}
	p.WantText(fmt.Sprintf("And %d more rows without problems.", rows-2-100))
	// A small file's check, for the picture.
	small := filepath.Join(t.TempDir(), "people.csv")
	if err := os.WriteFile(small, []byte("First name;Last name;Email\nIma;Port;ima@example.com\nDup;One;dup@example.com\n;Two;dup@example.com\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p.Upload("File (.xlsx or .csv)", small)
	p.Click("Check the file")
	p.WantText("What the import would do: people.csv", "3 rows: 1 to create, 0 skipped, 2 refused.")
	p.Screenshot("import-check")
	// Import starts the job and goes to its page: a progress bar that
	// reloads itself while the job waits for the worker or runs.
	p.Upload("File (.xlsx or .csv)", file)
	p.Click("Import")
	p.WantH1("Import of people.xlsx")
	p.WantText("Waiting to start", fmt.Sprintf("0 of %d rows done (0%%)", rows), "Cancel the import")
	if got := browsertest.Eval[string](p, `(e => e.max + '/' + e.value + ' ' + e.labels[0]?.id)(document.querySelector('progress'))`); got != fmt.Sprintf("%d/0 undefined", rows) && got != fmt.Sprintf("%d/0 progress-text", rows) {
		t.Errorf("the progress bar: %s", got)
	}
	// A worker takes the job and stops after its first batches (as when
	// its replica shuts down): the page shows the import midway.
	im := imports.New(w.st, w.svc)
	stop, stopped := context.WithCancel(ctx)
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		imports.NewWorker(im, imports.WorkerOptions{Lease: time.Hour}).Run(stop)
	}()
	for deadline := time.Now().Add(time.Minute); ; {
		js, _, err := im.Jobs(ctx, opActor, w.tenant, store.ListOptions{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(js) == 1 && js[0].RowsDone > 0 {
			break
		}
		if len(js) != 1 || js[0].Ended() || js[0].Failures > 0 || time.Now().After(deadline) {
			stopped()
			t.Fatalf("the worker did not get the import under way: %+v", js)
		}
		time.Sleep(2 * time.Millisecond)
	}
	stopped()
	<-ran
	p.Navigating(func() {}) // the page's own reload
	done := browsertest.Eval[int](p, `document.querySelector('progress').value`)
	if done <= 0 || done >= rows {
		t.Fatalf("midway, the progress bar is at %d of %d", done, rows)
	}
	p.WantText("Importing", fmt.Sprintf("%d of %d rows done (%d%%)", done, rows, done*100/rows))
	p.Screenshot("import-progress")
	// Another worker takes the job given back and finishes it; the page,
	// reloading itself, then says what the import did.
	p.Navigating(func() {
		if _, err := imports.NewWorker(im, imports.WorkerOptions{}).RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
	})
	if !strings.Contains(p.Text(), "What the import did") {
		p.Navigating(func() {}) // the reload came before the end
	}
	p.WantText("What the import did: people.xlsx", fmt.Sprintf("%d rows: %d created, 0 skipped, 2 refused.", rows, rows-2),
		fmt.Sprintf(`row %d, column "Email": also used by another person in this file, row %d`, rows, rows+1))
	p.Screenshot("import-done")
	// The report, downloaded in the browser's session: the file's rows
	// with their results.
	status, body := p.Download("Report (.csv)")
	if status != 200 {
		t.Fatalf("the report: %d %s", status, body)
	}
	// Each line: the row's cells as filled in (the template's columns),
	// then its number, result, problems and account.
	lines := strings.Split(strings.TrimSpace(string(body)), "\n")
	for _, want := range []struct{ start, then string }{
		{"Ima,Port 0,ima0@example.com,", ",2,created,,"},
		{"Dup,One,dup@example.com,", fmt.Sprintf(`,%d,refused,"row %d, column ""Email"": also used by another person in this file, row %d",`, rows, rows, rows+1)},
		{",Two,dup@example.com,", fmt.Sprintf(`,%d,refused,"row %d, column ""Email"": already used by another person in this file, row %d`, rows+1, rows+1, rows)},
	} {
		if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, want.start) && strings.Contains(l, want.then) }) {
			t.Errorf("the report has no line %q…%q", want.start, want.then)
		}
	}
	if n := strings.Count(string(body), ",created,"); len(lines) != rows+1 || n != rows-2 {
		t.Errorf("the report has %d lines, %d rows created; want %d and %d", len(lines), n, rows+1, rows-2)
	}
	// The imports page lists it.
	p.ClickLink("All imports")
	p.WantText("Imports, newest first", "people.xlsx", fmt.Sprintf("%d created", rows-2))
	p.Screenshot("import-history")
}

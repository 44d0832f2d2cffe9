package web

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/usherhq/usher/imports"
	"github.com/usherhq/usher/internal/browsertest"
)

// TestBrowserConsoleImport: an administrator finds the import page,
// checks a file (nothing created), sees every problem, and imports it.
func TestBrowserConsoleImport(t *testing.T) {
	w := newBrowserWorld(t)
	p := consoleAdmin(t, w)
	p.ClickLink("Import people")
	p.WantH1("Import people")
	p.WantText("Excel template (.xlsx)", "CSV template")
	file := filepath.Join(t.TempDir(), "people.csv")
	if err := os.WriteFile(file, []byte("First name;Last name;Email\nIma;Port;ima@example.com\nDup;One;dup@example.com\n;Two;dup@example.com\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p.Upload("File (.xlsx or .csv)", file)
	p.Click("Check the file")
	p.WantH1("Import people")
	p.WantText("What the import would do: people.csv", "3 rows: 1 to create, 0 skipped, 2 refused.",
		`row 3, column "Email": also used by another person in this file, row 4`, `row 4, column "First name": is required in this tenant`)
	p.Screenshot("import-check")
	// Import starts the job and goes to its page: a progress bar that
	// reloads itself while the job waits for the worker or runs.
	p.Upload("File (.xlsx or .csv)", file)
	p.Click("Import")
	p.WantH1("Import of people.csv")
	p.WantText("Waiting to start", "0 of 3 rows done (0%)", "Cancel the import")
	if got := browsertest.Eval[string](p, `(e => e.max + '/' + e.value + ' ' + e.labels[0]?.id)(document.querySelector('progress'))`); got != "3/0 undefined" && got != "3/0 progress-text" {
		t.Errorf("the progress bar: %s", got)
	}
	p.Screenshot("import-progress")
	// The page reloads itself; once the worker has run, it says what the
	// import did.
	im := imports.New(w.st, w.svc)
	p.Navigating(func() {
		if _, err := imports.NewWorker(im, imports.WorkerOptions{}).RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
	if !strings.Contains(p.Text(), "What the import did") {
		p.Navigating(func() {}) // the reload came before the end
	}
	p.WantText("What the import did: people.csv", "3 rows: 1 created, 0 skipped, 2 refused.",
		`row 3, column "Email": also used by another person in this file, row 4`)
	p.Screenshot("import-done")
	// The report, downloaded in the browser's session: the file's rows
	// with their results.
	status, body := p.Download("Report (.csv)")
	report := fmt.Sprint(status, "\n", string(body))
	for _, want := range []string{"200\n", "Ima,Port,ima@example.com,2,created,,", "Dup,One,dup@example.com,3,refused,", `,Two,dup@example.com,4,refused,"row 4, column ""Email"": already used by another person in this file, row 3`} {
		if !strings.Contains(report, want) {
			t.Errorf("the report does not hold %q:\n%s", want, report)
		}
	}
	// The imports page lists it.
	p.ClickLink("All imports")
	p.WantText("Imports, newest first", "people.csv", "1 created")
	p.Screenshot("import-history")
}

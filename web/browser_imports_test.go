package web

import (
	"os"
	"path/filepath"
	"testing"
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
	p.Upload("File (.xlsx or .csv)", file)
	p.Click("Import")
	p.WantText("What the import did: people.csv", "3 rows: 1 created, 0 skipped, 2 refused.")
}

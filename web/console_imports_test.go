package web

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"path"
	"strings"
	"testing"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/imports"
	"github.com/usherhq/usher/store"
)

// postFile posts the import form as a browser does: the file and the
// button pressed.
func (b *browser) postFile(path, name, content, action string) webPage {
	b.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", name)
	fw.Write([]byte(content))
	mw.WriteField("action", action)
	mw.Close()
	req, _ := http.NewRequest("POST", b.w.url+path, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return b.do(req)
}

// TestConsoleImport: the template downloaded from the console, a file
// checked (nothing created), then imported, on both databases.
func TestConsoleImport(t *testing.T) {
	onEachDatabaseWorld(t, func(t *testing.T, w *signinWorld) {
		b := w.admin(t, w.tenant, usher.AdminUser, "ua@example.com")
		const page = "/t/acme/admin/imports"
		wantPage(t, b.get(page), 200, "Import people", `/t/acme/admin/imports/template.xlsx" download>Excel template`, `enctype="multipart/form-data"`)
		p := b.get(page + "/template.csv")
		if p.status != 200 || p.header.Get("Content-Type") != "text/csv; charset=utf-8" || !strings.HasPrefix(p.body, "\uFEFFFirst name *,Last name *,Email,") {
			t.Fatalf("csv template: %d %v %q", p.status, p.header, p.body)
		}
		p = b.get(page + "/template.xlsx")
		if p.status != 200 || !strings.HasPrefix(p.body, "PK") {
			t.Fatalf("xlsx template: %d %v", p.status, p.header)
		}
		file := "First name;Last name;Email\nIma;Port;ima@example.com\nDup;One;dup@example.com\n;Two;dup@example.com\n"
		p = b.postFile(page, "people.csv", file, "check")
		wantPage(t, p, 200, "What the import would do: people.csv", "3 rows: 1 to create, 0 skipped, 2 refused.",
			"row 3, column &#34;Email&#34;: also used by another person in this file, row 4",
			"row 4, column &#34;First name&#34;: is required in this tenant")
		if _, err := w.st.Read().AccountByLogin(context.Background(), w.tenant.ID, "ima@example.com"); err == nil {
			t.Fatal("the check created an account")
		}
		p = b.postFile(page, "people.csv", file, "report")
		if p.status != 200 || !strings.HasPrefix(p.body, "PK") || !strings.Contains(p.header.Get("Content-Disposition"), "import-check.xlsx") {
			t.Fatalf("the check as a workbook: %d %v", p.status, p.header)
		}
		// Import starts a job and goes to its page, which reloads itself
		// while the job waits or runs.
		p = b.postFile(page, "people.csv", file, "import")
		wantPage(t, p, 200, "Import of people.csv", "Waiting to start", "0 of 3 rows done (0%)", `<progress max="3" value="0"`,
			`<meta http-equiv="refresh" content="2">`, "Cancel the import")
		if _, err := imports.NewWorker(imports.New(w.st, w.svc), imports.WorkerOptions{}).RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		jobPage := strings.TrimPrefix(p.url, w.url)
		p = b.get(jobPage)
		wantPage(t, p, 200, "What the import did: people.csv", "3 rows: 1 created, 0 skipped, 2 refused.", "report.xlsx", "report.csv",
			"row 3, column &#34;Email&#34;: also used by another person in this file, row 4")
		if strings.Contains(p.body, "http-equiv") {
			t.Error("an ended import's page still reloads itself")
		}
		p = b.get(jobPage + "/report.csv")
		if p.status != 200 || !strings.Contains(p.body, "Ima,Port,ima@example.com,2,created,,") || !strings.Contains(p.body, "Dup,One,dup@example.com,3,refused,") {
			t.Errorf("the report: %d %q", p.status, p.body)
		}
		wantPage(t, b.get(page), 200, "/t/acme/admin/imports/"+path.Base(jobPage)+`">people.csv</a>`, "1 created")
		// The audit log names the import, and its rows' creations by it.
		wantPage(t, b.get("/t/acme/admin/audit"), 200, `/t/acme/admin/imports/`+path.Base(jobPage)+`">the import of people.csv</a>`)
		// Another tenant's administrator finds no such import.
		other, _ := w.newTenant(t, "other", "Other")
		ob := w.admin(t, other, usher.AdminTenant, "oa@example.com")
		if p := ob.get(strings.Replace(jobPage, "/acme/", "/other/", 1)); p.status != 404 {
			t.Errorf("another tenant's import: %d", p.status)
		}
		a, err := w.st.Read().AccountByLogin(context.Background(), w.tenant.ID, "ima@example.com")
		if err != nil {
			t.Fatal(err)
		}
		evs, _, _ := w.st.Read().AuditEvents(context.Background(), w.tenant.ID, store.AuditFilter{TargetID: a.ID}, store.ListOptions{})
		if len(evs) != 1 || evs[0].ActorKind != usher.ActorImport {
			t.Errorf("%+v", evs)
		}
		// A file that is refused whole says why next to the field.
		wantPage(t, b.postFile(page, "shoes.csv", "Shoe size\n42\n", "check"), 422, `id="file-error"`, "is not a column usher knows")
	})
}

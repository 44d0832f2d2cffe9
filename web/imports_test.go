package web

import (
	"bytes"
	"context"
	"mime/multipart"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/apitoken"
	"github.com/usherhq/usher/catalog"
	"github.com/usherhq/usher/imports"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/web/api"
)

// TestImportAPI downloads the template, fills it in, runs the dry run and
// the import over HTTP, on both databases.
func TestImportAPI(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, e *apiEnv) {
		ctx := context.Background()
		op := usher.Actor{Kind: "operator", ID: "op", Role: usher.PrincipalOperator}
		tn, err := e.svc.CreateTenant(ctx, op, provision.TenantInput{Slug: "imp", Name: "Import Ltd"})
		if err != nil {
			t.Fatal(err)
		}
		name, seats := "Basic", 5
		p, err := e.srv.catalog.CreatePlan(ctx, op, tn, catalog.PlanInput{Key: "basic", Name: &name, Seats: &seats})
		if err != nil {
			t.Fatal(err)
		}
		st := tn.Settings
		st.DefaultPlanID = p.ID
		if tn, err = e.svc.UpdateTenant(ctx, op, tn.ID, provision.TenantUpdate{Settings: &st}); err != nil {
			t.Fatal(err)
		}
		other, err := e.svc.CreateTenant(ctx, op, provision.TenantInput{Slug: "other", Name: "Other"})
		if err != nil {
			t.Fatal(err)
		}
		_, otherToken, err := e.srv.apiTokens.CreateToken(ctx, op, other, apitoken.TokenInput{Name: "other", Role: usher.AdminTenant})
		if err != nil {
			t.Fatal(err)
		}
		const base = "/api/v1/tenants/imp/imports"

		r := e.call(t, "GET", base+"/template.csv?lang=nl", e.op, nil)
		if r.Status != 200 || r.Header.Get("Content-Type") != "text/csv; charset=utf-8" || !strings.HasPrefix(string(r.Body), "\uFEFFVoornaam *,Achternaam *,E-mail,") {
			t.Fatalf("csv template: %s", r)
		}
		wantProblem(t, e.call(t, "GET", base+"/template.csv?lang=xx", e.op, nil), 422, "invalid", "lang")
		wantProblem(t, e.call(t, "GET", "/api/v1/tenants/imp/imports/template.xlsx", otherToken, nil), 404, "not_found", "tenant")

		r = e.call(t, "GET", base+"/template.xlsx", e.op, nil)
		if r.Status != 200 || r.Header.Get("Content-Type") != api.TypeXLSX || !strings.Contains(r.Header.Get("Content-Disposition"), "imp-import.xlsx") {
			t.Fatalf("xlsx template: %d %v", r.Status, r.Header)
		}
		f, err := excelize.OpenReader(bytes.NewReader(r.Body))
		if err != nil {
			t.Fatal(err)
		}
		f.SetSheetRow("People", "A3", &[]any{"Bo", "Ek", "bo@example.com"})
		f.SetSheetRow("People", "A4", &[]any{"", "Nobody", "bo@example.com"})
		var buf bytes.Buffer
		f.WriteTo(&buf)
		f.Close()

		// The dry run: every row, nothing written.
		r = e.call(t, "POST", base+"?dry_run=true", e.op, bytes.NewReader(buf.Bytes()), "Content-Type", api.TypeXLSX)
		rep := ok[imports.Report](t, r, 200)
		var texts []string
		for _, x := range rep.Results {
			texts = append(texts, x.Result)
			for _, p := range x.Problems {
				texts = append(texts, p.Text)
			}
		}
		want := []string{"create", "refused", `row 3, column "Email": also used by another person in this file, row 4`,
			"refused", `row 4, column "Email": already used by another person in this file, row 3`, `row 4, column "First name *": is required in this tenant`}
		if strings.Join(texts, "\n") != strings.Join(want, "\n") || !rep.DryRun || rep.ToCreate != 1 || rep.Refused != 2 || rep.Seats[0].Free != 5 {
			t.Errorf("dry run:\n%s\n%+v", strings.Join(texts, "\n"), rep)
		}
		if as, _, _ := e.st.Read().Accounts(ctx, tn.ID, store.AccountFilter{}, store.ListOptions{}); len(as) != 0 {
			t.Fatalf("the dry run created %d accounts", len(as))
		}

		// The import, as a multipart form.
		var form bytes.Buffer
		mw := multipart.NewWriter(&form)
		fw, _ := mw.CreateFormFile("file", "people.xlsx")
		fw.Write(buf.Bytes())
		mw.Close()
		// It answers at once with the job, which a worker runs.
		r = e.call(t, "POST", base, e.op, bytes.NewReader(form.Bytes()), "Content-Type", mw.FormDataContentType())
		job := ok[imports.Job](t, r, 202)
		if job.State != "queued" || job.Rows != 3 || job.FileName != "people.xlsx" || job.FileSize != int64(buf.Len()) || job.RowsDone != 0 {
			t.Fatalf("import %+v", job)
		}
		if did, err := imports.NewWorker(imports.New(e.st, e.svc), imports.WorkerOptions{}).RunOnce(ctx); !did || err != nil {
			t.Fatal(did, err)
		}
		job = ok[imports.Job](t, e.call(t, "GET", base+"/"+job.ID, e.op, nil), 200)
		if job.State != "done" || job.RowsDone != 3 || job.Created != 1 || job.Refused != 2 || job.FinishedAt == nil || job.StartedBy.Kind != "operator" {
			t.Fatalf("the import, done: %+v", job)
		}
		list := ok[api.Page[imports.Job]](t, e.call(t, "GET", base+"?limit=1", e.op, nil), 200)
		if len(list.Items) != 1 || list.Items[0].ID != job.ID {
			t.Errorf("the history: %+v", list)
		}
		evs, _, _ := e.st.Read().AuditEvents(ctx, tn.ID, store.AuditFilter{TargetID: job.ID}, store.ListOptions{})
		if len(evs) != 1 || evs[0].Details["file_name"] != "people.xlsx" || evs[0].ActorKind != "operator" || evs[0].Details["file_sha256"] != job.FileSHA256 {
			t.Errorf("the import's audit: %+v", evs)
		}
		r = e.call(t, "GET", base+"/"+job.ID+"/report.csv", e.op, nil)
		lines := strings.Split(strings.TrimSpace(strings.TrimPrefix(string(r.Body), "\uFEFF")), "\n")
		if r.Status != 200 || r.Header.Get("Content-Type") != "text/csv; charset=utf-8" || len(lines) < 4 ||
			!strings.HasSuffix(lines[0], ",usher: row,usher: result,usher: problems,usher: account id") ||
			!strings.Contains(lines[1], ",2,created,,") || !strings.Contains(lines[2], "Bo,Ek,bo@example.com,") || !strings.Contains(lines[2], ",3,refused,") {
			t.Errorf("report.csv: %s", r)
		}
		acct := lines[1][strings.LastIndex(lines[1], ",")+1:]
		a, err := e.st.Read().Account(ctx, tn.ID, acct)
		if err != nil || a.Email != "anna.jansen@example.com" {
			t.Errorf("the example row's account: %+v %v", a, err)
		}
		r = e.call(t, "GET", base+"/"+job.ID+"/report.xlsx", e.op, nil)
		if r.Status != 200 || r.Header.Get("Content-Type") != api.TypeXLSX || !bytes.HasPrefix(r.Body, []byte("PK")) {
			t.Errorf("report.xlsx: %d %v", r.Status, r.Header)
		}
		// Cancelling an import that ended changes nothing.
		if j := ok[imports.Job](t, e.call(t, "POST", base+"/"+job.ID+"/cancel", e.op, nil), 200); j.State != "done" {
			t.Errorf("cancel after the end: %+v", j)
		}
		// Another tenant's import is not found.
		for _, path := range []string{"", "/report.csv", "/report.xlsx"} {
			wantProblem(t, e.call(t, "GET", "/api/v1/tenants/other/imports/"+job.ID+path, otherToken, nil), 404, "not_found", "import_id")
		}
		wantProblem(t, e.call(t, "POST", "/api/v1/tenants/other/imports/"+job.ID+"/cancel", otherToken, nil), 404, "not_found", "import_id")

		// The check as a file: the rows back with their results.
		r = e.call(t, "POST", base+"/check.csv", e.op, bytes.NewReader(buf.Bytes()), "Content-Type", api.TypeXLSX)
		if r.Status != 200 || r.Header.Get("Content-Type") != "text/csv; charset=utf-8" ||
			!strings.Contains(string(r.Body), `usher: problems`) || !strings.Contains(string(r.Body), `Bo,Ek,bo@example.com,`) {
			t.Errorf("check.csv: %s", r)
		}
		r = e.call(t, "POST", base+"/check.xlsx", e.op, rawBody("Vorname,Shoe size\nA,1\n"), "Content-Type", "text/csv")
		wantProblem(t, r, 422, "invalid", "file")

		// Refusals name the file and what is wrong with it.
		wantProblem(t, e.call(t, "POST", base, e.op, rawBody("First name\nA\n"), "Content-Type", "text/plain"), 415, "unsupported_media_type", "Content-Type")
		wantProblem(t, e.call(t, "POST", base, e.op, rawBody("Vorname,Shoe size\nA,1\n"), "Content-Type", "text/csv"), 422, "invalid", "file")
		wantProblem(t, e.call(t, "POST", base, e.op, rawBody(""), "Content-Type", "text/csv"), 422, "invalid", "file")
		wantProblem(t, e.call(t, "POST", base+"?dry_run=maybe", e.op, rawBody("First name\nA\n"), "Content-Type", "text/csv"), 422, "invalid", "dry_run")
		wantProblem(t, e.call(t, "POST", base, otherToken, rawBody("First name\nA\n"), "Content-Type", "text/csv"), 404, "not_found", "tenant")
	})
}

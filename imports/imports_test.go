package imports_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/charmap"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/catalog"
	"github.com/usherhq/usher/imports"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/store/storetest"
)

var (
	operator = usher.Actor{Kind: "operator", ID: "op", Role: usher.PrincipalOperator}
	admin    = usher.Actor{Kind: "token", ID: "ta", Role: usher.AdminTenant}
)

type env struct {
	t    testing.TB
	ctx  context.Context
	st   *store.Store
	svc  *provision.Service
	im   *imports.Importer
	tn   usher.Tenant
	plan usher.Plan
	// skew moves the store's clock ahead, as the lease tests need.
	skew atomic.Int64
}

func (e *env) now() time.Time { return time.Now().Add(time.Duration(e.skew.Load())) }

// newEnv makes a frontline tenant (seed 003's required fields) with a
// department, job profile, role, two groups, an external organization and
// a default plan of 10 seats.
func newEnv(t testing.TB, open func(testing.TB, func() time.Time) *store.Store) *env {
	e := &env{t: t, ctx: context.Background()}
	e.st = open(t, e.now)
	e.svc = provision.New(e.st, nil, storetest.Links{})
	e.im = imports.New(e.st, e.svc)
	e.tn = e.tenant("acme")
	return e
}

func (e *env) tenant(slug string) usher.Tenant {
	e.t.Helper()
	tn, err := e.svc.CreateTenant(e.ctx, operator, provision.TenantInput{Slug: slug, Name: "Tenant " + slug, Template: usher.TemplateFrontline})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, a := range []struct{ kind, name string }{{usher.KindDepartment, "Sales"}, {usher.KindJobProfile, "Driver"},
		{usher.KindRole, "Staff"}, {usher.KindGroup, "Night shift"}, {usher.KindGroup, "Day shift"}} {
		name := a.name
		if _, err := catalog.New(e.st, e.svc).CreateAttribute(e.ctx, admin, tn, a.kind, catalog.AttributeInput{Key: strings.ToLower(strings.ReplaceAll(a.name, " ", "-")), Name: &name}); err != nil {
			e.t.Fatal(err)
		}
	}
	org := "Partner Ltd"
	if _, err := e.svc.CreateOrganization(e.ctx, admin, tn, provision.OrganizationInput{Name: &org}); err != nil {
		e.t.Fatal(err)
	}
	name, seats := "Basic", 10
	p, err := catalog.New(e.st, e.svc).CreatePlan(e.ctx, operator, tn, catalog.PlanInput{Key: "basic", Name: &name, Seats: &seats})
	if err != nil {
		e.t.Fatal(err)
	}
	s := tn.Settings
	s.DefaultPlanID = p.ID
	tn, err = e.svc.UpdateTenant(e.ctx, admin, tn.ID, provision.TenantUpdate{Settings: &s})
	if err != nil {
		e.t.Fatal(err)
	}
	e.plan = p
	return tn
}

func TestImportsSQLite(t *testing.T) { runSuite(t, storetest.OpenSQLite) }

func TestImportsPostgres(t *testing.T) {
	if storetest.PostgresURL() == "" {
		t.Skip("USHER_TEST_POSTGRES_URL is not set: the imports suite did not run on PostgreSQL")
	}
	runSuite(t, storetest.OpenPostgres)
}

func runSuite(t *testing.T, open func(testing.TB, func() time.Time) *store.Store) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, e *env)
	}{
		{"Template", testTemplate},
		{"FilledTemplate", testFilledTemplate},
		{"EuropeanCSV", testEuropeanCSV},
		{"UTF16", testUTF16},
		{"PhonesAsNumbers", testPhonesAsNumbers},
		{"Formulas", testFormulas},
		{"Dates", testDates},
		{"DateExternalID", testDateExternalID},
		{"DatesInStep", testDatesInStep},
		{"Duplicates", testDuplicates},
		{"CheckFile", testCheckFile},
		{"DryRunJSON", testDryRunJSON},
		{"SeatsConcurrently", testSeatsConcurrently},
		{"Existing", testExisting},
		{"OneTimePassword", testOneTimePassword},
		{"OtherTenant", testOtherTenant},
		{"Refusals", testRefusals},
		{"JobDone", testJobDone},
		{"TwoWorkers", testTwoWorkers},
		{"TakeOver", testTakeOver},
		{"LeaseLost", testLeaseLost},
		{"LeaseLostMidBatch", testLeaseLostMidBatch},
		{"LeaseLostAtFinish", testLeaseLostAtFinish},
		{"Retried", testRetried},
		{"Shutdown", testShutdown},
		{"Cancel", testCancel},
		{"CancelRunning", testCancelRunning},
		{"CancelMidBatch", testCancelMidBatch},
		{"JobReports", testJobReports},
		{"JobOtherTenant", testJobOtherTenant},
		{"Chunks", testChunks},
		{"TooLarge", testTooLarge},
		{"XLSXStream", testXLSXStream},
		{"Retention", testRetention},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newEnv(t, open)) })
	}
}

// lines are a report's problems, one text each, and its rows' results.
func lines(r imports.Report) []string {
	var out []string
	for _, x := range r.Results {
		if len(x.Problems) == 0 {
			out = append(out, fmt.Sprintf("row %d: %s", x.Row, x.Result))
		}
		for _, p := range x.Problems {
			out = append(out, x.Result+": "+p.Text)
		}
	}
	return out
}

func wantLines(t *testing.T, r imports.Report, want ...string) {
	t.Helper()
	got := lines(r)
	if !slices.Equal(got, want) {
		t.Errorf("report:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func wantRefused(t *testing.T, err error, msg string) {
	t.Helper()
	if err == nil || !strings.Contains(err.Error(), msg) {
		t.Fatalf("got %v, want a refusal with %q", err, msg)
	}
}

func (e *env) count() int {
	e.t.Helper()
	as, _, err := e.st.Read().Accounts(e.ctx, e.tn.ID, store.AccountFilter{}, store.ListOptions{Limit: 500})
	if err != nil {
		e.t.Fatal(err)
	}
	return len(as)
}

func testTemplate(t *testing.T, e *env) {
	data, err := e.im.TemplateXLSX(e.ctx, e.tn, "de")
	if err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := f.GetSheetList(); !slices.Equal(got, []string{"People", "Instructions", "Lists"}) {
		t.Errorf("sheets %v", got)
	}
	if v, _ := f.GetSheetVisible("Lists"); v {
		t.Error("the Lists sheet is visible")
	}
	rows, err := f.GetRows("People")
	if err != nil || len(rows) != 2 {
		t.Fatalf("rows %v %v", rows, err)
	}
	// Frontline: names, department, job profile, role and language required.
	wantHead := []string{"Vorname *", "Nachname *", "E-Mail", "Telefon", "Benutzername", "Organisation", "Abteilung *", "Stellenprofil *",
		"Rolle *", "Tarif", "Primäre Gruppe", "Weitere Gruppen", "Sprache *", "Externe ID", "Einmalpasswort"}
	if !slices.Equal(rows[0], wantHead) {
		t.Errorf("header %q", rows[0])
	}
	if want := []string{"Anna", "Jansen", "anna.jansen@example.com", "+31 6 1234 5678", "", "", "Sales", "Driver", "Staff", "Basic", "Night shift", "", "en"}; !slices.Equal(rows[1], want) {
		t.Errorf("example %q", rows[1])
	}
	dvs, err := f.GetDataValidations("People")
	if err != nil {
		t.Fatal(err)
	}
	lists := map[string]string{}
	for _, dv := range dvs {
		lists[dv.Sqref] = dv.Formula1
	}
	for _, want := range []struct{ sqref, list string }{{"F2:F100001", "Lists!$A$2:$A$3"}, {"G2:G100001", "Lists!$B$2:$B$2"},
		{"J2:J100001", "Lists!$E$2:$E$2"}, {"K2:K100001", "Lists!$F$2:$F$3"}, {"L2:L100001", "Lists!$G$2:$G$3"}, {"M2:M100001", "Lists!$H$2:$H$7"}} {
		if got := lists[want.sqref]; !strings.Contains(got, want.list) {
			t.Errorf("drop-down of %s is %q, want %s (all: %v)", want.sqref, got, want.list, lists)
		}
	}
	// A list refuses what it does not hold, but Other groups takes several.
	for _, dv := range dvs {
		if want := map[bool]string{true: "information", false: "stop"}[dv.Sqref == "L2:L100001"]; dv.ErrorStyle == nil || *dv.ErrorStyle != want {
			t.Errorf("the drop-down of %s answers a value not in it with %v, want %s", dv.Sqref, dv.ErrorStyle, want)
		}
	}
	listRows, _ := f.GetCols("Lists")
	if len(listRows) != 8 || !slices.Equal(listRows[0][:3], []string{"Organisation", "Tenant acme", "Partner Ltd"}) || !slices.Equal(listRows[6][:3], []string{"Weitere Gruppen", "Night shift", "Day shift"}) ||
		!slices.Equal(listRows[7][:3], []string{"Sprache", "en", "nl"}) {
		t.Errorf("lists %q", listRows)
	}
	ins, _ := f.GetRows("Instructions")
	if len(ins) < 7 || ins[0][0] != "Personen in Tenant acme importieren" || ins[5][0] != "Spalte" || ins[6][0] != "Vorname" || ins[6][1] != "ja" ||
		ins[6][2] != "Der Vorname." {
		t.Errorf("instructions %q", ins)
	}
	// The template as downloaded is a file the dry run takes: its example row.
	rep, err := e.im.DryRun(e.ctx, admin, e.tn, data)
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, rep, "row 2: create")

	csvData, err := e.im.TemplateCSV(e.ctx, e.tn, "fr")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(csvData), "\uFEFFPrénom *,Nom *,Courriel,") {
		t.Errorf("csv %q", csvData)
	}
	rep, err = e.im.DryRun(e.ctx, admin, e.tn, csvData)
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, rep, "row 2: create")
}

// testFilledTemplate fills the template as a person would, in the XLSX
// library, and runs the dry run and the import.
func testFilledTemplate(t *testing.T, e *env) {
	data, err := e.im.TemplateXLSX(e.ctx, e.tn, "en")
	if err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	people := [][]any{
		{"Anna", "Jansen", "anna@example.com", "+31 6 1234 5678", "", "", "Sales", "Driver", "Staff", "Basic", "Day shift", "Night shift", "en"},
		{"Bob ", "Berg", "bob@example.com", "", "", "Partner Ltd", "sales", "DRIVER", "staff", "", "", "", "nl"},
		{"", "Carr", "not-an-email", "", "", "", "Marketing", "Driver", "Staff", "", "", "Evening shift", "xx"},
		{"Dora", "Dean", "", "", "", "", "Sales", "Driver", "Staff"},
	}
	for i, p := range people {
		cell, _ := excelize.CoordinatesToCellName(1, i+2)
		if err := f.SetSheetRow("People", cell, &p); err != nil {
			t.Fatal(err)
		}
	}
	// Blank rows at the end, as spreadsheets leave them.
	f.SetCellStr("People", "A20", " ")
	var buf bytes.Buffer
	if _, err := f.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	f.Close()
	rep, err := e.im.DryRun(e.ctx, admin, e.tn, buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, rep,
		"row 2: create",
		"row 3: create",
		`refused: row 4, column "Department *": "Marketing" is not one of the tenant's departments; choose one from the drop-down list`,
		`refused: row 4, column "Other groups": "Evening shift" is not one of the tenant's groups; choose one from the drop-down list`,
		`refused: row 4, column "Email": "not-an-email" is not an email address`,
		`refused: row 4, column "Language *": "xx" is not one of the tenant's languages (en, nl, de, fr, sv, nb)`,
		`refused: row 4, column "First name *": is required in this tenant`,
		`refused: row 5, column "Email": give an email, or a username and a phone number`,
	)
	if rep.ToCreate != 2 || rep.Refused != 2 || rep.Rows != 4 || len(rep.Seats) != 1 || rep.Seats[0] != (imports.PlanSeats{PlanID: e.plan.ID, Plan: "Basic", Needed: 2, Free: 10}) {
		t.Errorf("counts %+v", rep)
	}
	if n := e.count(); n != 0 {
		t.Fatalf("the dry run created %d accounts", n)
	}
	rep, err = e.im.Import(e.ctx, admin, e.tn, "people.csv", buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Created != 2 || rep.Refused != 2 || rep.Results[0].Result != "created" || rep.Results[0].AccountID == "" {
		t.Fatalf("import %+v", rep)
	}
	a, err := e.st.Read().Account(e.ctx, e.tn.ID, rep.Results[0].AccountID)
	if err != nil {
		t.Fatal(err)
	}
	if a.Email != "anna@example.com" || a.Phone != "+31612345678" || len(a.GroupIDs) != 1 || a.PrimaryGroupID == "" {
		t.Errorf("anna %+v", a)
	}
	// Audited: the import by the administrator, with its file; each row's
	// creation by the import.
	evs, _, err := e.st.Read().AuditEvents(e.ctx, e.tn.ID, store.AuditFilter{TargetID: rep.ID}, store.ListOptions{})
	if err != nil || len(evs) != 1 {
		t.Fatalf("%v %v", evs, err)
	}
	d := evs[0].Details
	if evs[0].Action != "import.completed" || evs[0].ActorID != admin.ID || d["file_name"] != "people.csv" || d["file_size"] != fmt.Sprint(buf.Len()) ||
		len(d["file_sha256"]) != 64 || d["rows"] != "4" || d["created"] != "2" || d["refused"] != "2" || d["skipped"] != "0" {
		t.Errorf("%+v", evs[0])
	}
	evs, _, _ = e.st.Read().AuditEvents(e.ctx, e.tn.ID, store.AuditFilter{TargetID: a.ID}, store.ListOptions{})
	if len(evs) != 1 || evs[0].Action != "account.created" || evs[0].ActorKind != usher.ActorImport || evs[0].ActorID != rep.ID {
		t.Errorf("%+v", evs)
	}
	bob, err := e.st.Read().Person(e.ctx, e.tn.ID, rep.Results[1].PersonID)
	if err != nil || bob.FirstName != "Bob" || bob.Language != "nl" {
		t.Errorf("bob %+v %v", bob, err)
	}
	// Again: nobody is overwritten; they are skipped.
	rep, err = e.im.Import(e.ctx, admin, e.tn, "people.csv", buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Created != 0 || rep.Skipped != 2 || rep.Results[0].Problems[0].Text != `row 2, column "Email": anna@example.com already signs in to an account of this tenant; an import does not change existing people` {
		t.Errorf("again %+v", rep.Results[0])
	}
	if n := e.count(); n != 2 {
		t.Errorf("%d accounts, want 2", n)
	}
}

// testEuropeanCSV is CSV as Excel saves it in Europe: semicolons,
// Windows-1252, German headers in another case, a quoted line break.
func testEuropeanCSV(t *testing.T, e *env) {
	text := "VORNAME;nachname;E-Mail;abteilung;Stellenprofil;rolle;sprache;weitere gruppen\r\n" +
		"Jürgen;Müller;jurgen@example.com;Sales;Driver;Staff;de;\"Night shift\r\nDay shift\"\r\n" +
		"Zoë;Größe;zoe@example.com;Sales;Driver;Staff;fr;\r\n" +
		";;;;;;;\r\n"
	data, err := charmap.Windows1252.NewEncoder().Bytes([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := e.im.Import(e.ctx, admin, e.tn, "people.csv", data)
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, rep, "row 2: created", "row 3: created")
	p, err := e.st.Read().Person(e.ctx, e.tn.ID, rep.Results[0].PersonID)
	if err != nil || p.FirstName != "Jürgen" || p.LastName != "Müller" {
		t.Errorf("%+v %v", p, err)
	}
	a, _ := e.st.Read().Account(e.ctx, e.tn.ID, rep.Results[0].AccountID)
	if len(a.GroupIDs) != 2 {
		t.Errorf("groups %v", a.GroupIDs)
	}
	// UTF-8 with a byte order mark and commas reads alike.
	rep, err = e.im.DryRun(e.ctx, admin, e.tn, []byte("\uFEFFfirst_name,last_name,email,department,job_profile,role,language\nÅsa,Ek,asa@example.com,Sales,Driver,Staff,sv\n"))
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, rep, "row 2: create")
}

// testUTF16 is Excel's "Unicode text": UTF-16 with a byte order mark, tabs.
func testUTF16(t *testing.T, e *env) {
	text := "Prénom\tNom\tCourriel\tDépartement\tProfil de poste\tRôle\tLangue\r\nÉlodie\tLefèvre\telodie@example.com\tSales\tDriver\tStaff\tfr\r\n"
	u := utf16.Encode([]rune(text))
	data := []byte{0xFF, 0xFE}
	for _, c := range u {
		data = append(data, byte(c), byte(c>>8))
	}
	rep, err := e.im.DryRun(e.ctx, admin, e.tn, data)
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, rep, "row 2: create")
	if rep.Format != "csv" || rep.Columns[0] != "Prénom" {
		t.Errorf("%+v", rep)
	}
}

// testPhonesAsNumbers: a phone typed into a number cell loses its + and
// shows as 4.712345678E10; the row is reported, not guessed.
func testPhonesAsNumbers(t *testing.T, e *env) {
	f := excelize.NewFile()
	f.SetSheetRow("Sheet1", "A1", &[]any{"First name", "Last name", "Username", "Phone", "Department", "Job profile", "Role", "Language"})
	f.SetSheetRow("Sheet1", "A2", &[]any{"Piet", "Pot", "piet", 4712345678, "Sales", "Driver", "Staff", "nl"})
	f.SetSheetRow("Sheet1", "A3", &[]any{"Kees", "Kok", "kees", 4.712345678e10, "Sales", "Driver", "Staff", "nl"})
	f.SetSheetRow("Sheet1", "A4", &[]any{"Jan", "Mol", "jan", "+47 12345678", "Sales", "Driver", "Staff", "nl"})
	var buf bytes.Buffer
	f.WriteTo(&buf)
	rep, err := e.im.DryRun(e.ctx, admin, e.tn, buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, rep,
		`refused: row 2, column "Phone": 4712345678 has no +, as a spreadsheet keeps a phone number stored as a number; format the column as text and type the number with + and the country code, like +31 6 1234 5678`,
		`refused: row 2, column "Email": give an email, or a username and a phone number`,
		`refused: row 3, column "Phone": 47123456780 has no +, as a spreadsheet keeps a phone number stored as a number; format the column as text and type the number with + and the country code, like +31 6 1234 5678`,
		`refused: row 3, column "Email": give an email, or a username and a phone number`,
		"row 4: create")
	// Excel's CSV writes the number as it shows it, with a decimal comma in
	// much of Europe; a national number typed as text keeps its zero and
	// lacks the country code.
	rep, err = e.im.DryRun(e.ctx, admin, e.tn, []byte("First name;Last name;Username;Phone;Department;Job profile;Role;Language\n"+
		"Piet;Pot;piet;4,71235E+10;Sales;Driver;Staff;nl\nKees;Kok;kees;0612345678;Sales;Driver;Staff;nl\n"))
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, rep,
		`refused: row 2, column "Phone": 4,71235E+10 was stored as a number, in a form that may have lost digits as well as the +; format the column as text and type the number with + and the country code, like +31 6 1234 5678`,
		`refused: row 2, column "Email": give an email, or a username and a phone number`,
		`refused: row 3, column "Phone": "0612345678" has no country code: write it in international form, like +31 6 1234 5678`)
}

// testFormulas: a formula gives its cached value, as the spreadsheet last
// showed it; usher never evaluates it.
func testFormulas(t *testing.T, e *env) {
	f := excelize.NewFile()
	f.SetSheetRow("Sheet1", "A1", &[]any{"First name", "Last name", "Email", "Department", "Job profile", "Role", "Language"})
	f.SetSheetRow("Sheet1", "A2", &[]any{"Fo", "", "fo@example.com", "Sales", "Driver", "Staff", "en"})
	f.SetCellValue("Sheet1", "B2", "placeholder")
	f.SetCellValue("Sheet1", "H1", "External ID")
	f.SetCellValue("Sheet1", "H2", 1234)
	if err := f.SetCellFormula("Sheet1", "H2", "1000+234"); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	f.WriteTo(&buf)
	// A text formula as Excel saves it: its result cached as t="str".
	data := rewrite(t, buf.Bytes(), "xl/worksheets/sheet1.xml", func(s string) string {
		return regexp.MustCompile(`<c r="B2"[^>]*>.*?</c>`).ReplaceAllString(s, `<c r="B2" t="str"><f>CONCAT("Mu","ller")</f><v>Muller</v></c>`)
	})
	rep, err := e.im.Import(e.ctx, admin, e.tn, "formulas.xlsx", data)
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, rep, "row 2: created")
	p, err := e.st.Read().Person(e.ctx, e.tn.ID, rep.Results[0].PersonID)
	if err != nil || p.LastName != "Muller" || p.ExternalID != "1234" {
		t.Errorf("%+v %v", p, err)
	}
}

func testDuplicates(t *testing.T, e *env) {
	csv := "First name,Last name,Email,Username,Phone,Department,Job profile,Role,Language\n" +
		"A,One,same@example.com,,,Sales,Driver,Staff,en\n" +
		"B,Two,other@example.com,bee,+31612345678,Sales,Driver,Staff,en\n" +
		"C,Three,SAME@example.com,,,Sales,Driver,Staff,en\n" +
		"D,Four,,Bee,+31 6 1234 5678,Sales,Driver,Staff,en\n" +
		"E,Five,same@example.com,,,Sales,Driver,Staff,en\n"
	rep, err := e.im.DryRun(e.ctx, admin, e.tn, []byte(csv))
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, rep,
		`refused: row 2, column "Email": also used by another person in this file, row 4, 6`,
		`refused: row 3, column "Username": also used by another person in this file, row 5`,
		`refused: row 3, column "Phone": also used by another person in this file, row 5`,
		`refused: row 4, column "Email": already used by another person in this file, row 2`,
		`refused: row 5, column "Username": already used by another person in this file, row 3`,
		`refused: row 5, column "Phone": already used by another person in this file, row 3`,
		`refused: row 6, column "Email": already used by another person in this file, row 2`)
}

// testCheckFile: the dry run as the file itself with a result per row,
// safe to open (no value becomes a formula), and checked again as it is.
func testCheckFile(t *testing.T, e *env) {
	in := "First name;Last name;Email;Department;Job profile;Role;Language\n" +
		"\"=HYPERLINK(\"\"http://evil.example\"\")\";Smith;a@example.com;Sales;Driver;Staff;en\n" +
		"\n" +
		"Bo;@SUM(A1);bo@example.com;Marketing;Driver;Staff;en\n"
	out, err := e.im.CheckFile(e.ctx, admin, e.tn, []byte(in), "csv")
	if err != nil {
		t.Fatal(err)
	}
	want := "\uFEFFFirst name,Last name,Email,Department,Job profile,Role,Language,usher: row,usher: result,usher: problems\n" +
		"\"'=HYPERLINK(\"\"http://evil.example\"\")\",Smith,a@example.com,Sales,Driver,Staff,en,2,to create,\n" +
		"Bo,'@SUM(A1),bo@example.com,Marketing,Driver,Staff,en,4,refused,\"row 4, column \"\"Department\"\": \"\"Marketing\"\" is not one of the tenant's departments; choose one from the drop-down list\"\n"
	if string(out) != want {
		t.Errorf("csv report:\n%s\nwant:\n%s", out, want)
	}
	out, err = e.im.CheckFile(e.ctx, admin, e.tn, []byte(in), "xlsx")
	if err != nil {
		t.Fatal(err)
	}
	f, err := excelize.OpenReader(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	rows, _ := f.GetRows("People", excelize.Options{RawCellValue: true})
	if len(rows) != 3 || rows[1][0] != `=HYPERLINK("http://evil.example")` || rows[2][8] != "refused" || rows[1][7] != "2" {
		t.Errorf("xlsx report %q", rows)
	}
	if fm, _ := f.GetCellFormula("People", "A2"); fm != "" {
		t.Errorf("a value became the formula %q", fm)
	}
	f.Close()
	// The report, corrected where it says, is checked again as it is.
	f, _ = excelize.OpenReader(bytes.NewReader(out))
	f.SetCellStr("People", "D3", "Sales")
	var buf bytes.Buffer
	f.WriteTo(&buf)
	rep, err := e.im.DryRun(e.ctx, admin, e.tn, buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, rep, "row 2: create", "row 3: create")

	// From an upload, the result goes through a temporary file, the same
	// bytes, and neither file stays; nor after a refusal.
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	send, err := e.im.CheckFileFrom(e.ctx, admin, e.tn, strings.NewReader(in), "csv")
	if err != nil {
		t.Fatal(err)
	}
	var sent bytes.Buffer
	if err := send(&sent); err != nil {
		t.Fatal(err)
	}
	if want, _ := e.im.CheckFile(e.ctx, admin, e.tn, []byte(in), "csv"); sent.String() != string(want) {
		t.Errorf("sent from the temporary file:\n%s\nwant:\n%s", sent.String(), want)
	}
	if _, err := e.im.CheckFileFrom(e.ctx, admin, e.tn, strings.NewReader("\x00\x01\x02garbage"), "csv"); err == nil {
		t.Error("garbage was checked")
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

// testSeatsConcurrently: two imports and single creations at once on a
// plan of 10 seats never make more than 10 accounts; the rows past the
// seats are refused, saying so.
func testSeatsConcurrently(t *testing.T, e *env) {
	file := func(prefix string) []byte {
		var b strings.Builder
		b.WriteString("First name,Last name,Email,Department,Job profile,Role,Language\n")
		for i := range 8 {
			fmt.Fprintf(&b, "P,%s%d,%s%d@example.com,Sales,Driver,Staff,en\n", prefix, i, prefix, i)
		}
		return []byte(b.String())
	}
	var wg sync.WaitGroup
	reps := make([]imports.Report, 2)
	for i, prefix := range []string{"a", "b"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var err error
			if reps[i], err = e.im.Import(e.ctx, admin, e.tn, prefix+".csv", file(prefix)); err != nil {
				t.Error(err)
			}
		}()
	}
	single := 0
	var mu sync.Mutex
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := e.svc.CreateAccount(e.ctx, admin, e.tn, provision.AccountInput{Route: provision.RouteNewUser,
				Person: &provision.PersonInput{FirstName: "S", LastName: "Single", Email: fmt.Sprintf("s%d@example.com", i), Language: "en",
					DepartmentID: e.attrID(usher.KindDepartment), JobProfileID: e.attrID(usher.KindJobProfile)}, RoleID: e.attrID(usher.KindRole)})
			if err == nil {
				mu.Lock()
				single++
				mu.Unlock()
			} else if usher.ErrorCode(err) != usher.CodeSeatsFull {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	created := single
	for _, rep := range reps {
		created += rep.Created
		for _, x := range rep.Results {
			if x.Result == "refused" && (len(x.Problems) != 1 || !strings.Contains(x.Problems[0].Text, "seat")) {
				t.Errorf("refused without the seats as reason: %+v", x)
			}
		}
	}
	if n := e.count(); n != 10 || created != 10 {
		t.Errorf("%d accounts, %d reported created, on a plan of 10 seats", n, created)
	}
}

func (e *env) attrID(kind string) string {
	e.t.Helper()
	as, _, err := e.st.Read().Attributes(e.ctx, e.tn.ID, kind, true, store.ListOptions{})
	if err != nil || len(as) == 0 {
		e.t.Fatal(kind, err)
	}
	return as[0].ID
}

func testExisting(t *testing.T, e *env) {
	first, err := e.im.Import(e.ctx, admin, e.tn, "people.csv", []byte("First name,Last name,Email,Username,Department,Job profile,Role\nOld,Timer,old@example.com,oldie,Sales,Driver,Staff\n"))
	if err != nil || first.Created != 1 {
		t.Fatal(first, err)
	}
	csv := "First name,Last name,Email,Username,Department,Job profile,Role,Language\n" +
		"New,Name,old@example.com,,Sales,Driver,Staff,en\n" +
		"Other,Name,new@example.com,OLDIE,Sales,Driver,Staff,en\n"
	rep, err := e.im.Import(e.ctx, admin, e.tn, "people.csv", []byte(csv))
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, rep,
		`skipped: row 2, column "Email": old@example.com already signs in to an account of this tenant; an import does not change existing people`,
		`skipped: row 3, column "Username": oldie already signs in to an account of this tenant; an import does not change existing people`)
	p, err := e.st.Read().AccountByLogin(e.ctx, e.tn.ID, "old@example.com")
	if err != nil {
		t.Fatal(err)
	}
	person, _ := e.st.Read().Person(e.ctx, e.tn.ID, p.PersonID)
	if person.FirstName != "Old" {
		t.Errorf("the existing person was changed: %+v", person)
	}
}

func testOneTimePassword(t *testing.T, e *env) {
	csv := "First name,Last name,Username,Phone,Department,Job profile,Role,Language,One-time password\n" +
		"Ola,Nordmann,ola,+47 912 34 567,Sales,Driver,Staff,nb,Tulipan-42-hest\n" +
		"Kari,Nordmann,kari,+47 912 34 568,Sales,Driver,Staff,nb,short\n"
	rep, err := e.im.Import(e.ctx, admin, e.tn, "people.csv", []byte(csv))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 2 || rep.Results[0].Result != "created" || rep.Results[1].Result != "refused" ||
		!strings.HasPrefix(rep.Results[1].Problems[0].Text, `row 3, column "One-time password": must be `) {
		t.Fatalf("%q", lines(rep))
	}
	// The password is set with the account, in its transaction: no
	// invitation goes out whose link a later change would have revoked.
	msgs, _, err := e.st.Read().Messages(e.ctx, e.tn.ID, store.MessageFilter{AccountID: rep.Results[0].AccountID}, store.ListOptions{Limit: 10})
	if err != nil || len(msgs) != 0 {
		t.Fatalf("messages to a person given a one-time password: %d %v", len(msgs), err)
	}
	// Ola signs in once with it, and chooses his own password.
	a, err := e.svc.ActivateWithOneTimePassword(e.ctx, e.tn, "ola", "Tulipan-42-hest", "a-long-passphrase-of-olas-own", "", "test")
	if err != nil {
		t.Fatalf("the one-time password from the file does not work: %v", err)
	}
	if a.State != usher.StateActive {
		t.Errorf("%+v", a)
	}
}

// testOtherTenant: names resolve in the importing tenant only.
func testOtherTenant(t *testing.T, e *env) {
	other := e.tenant("other")
	name := "Secret department"
	if _, err := catalog.New(e.st, e.svc).CreateAttribute(e.ctx, admin, other, usher.KindDepartment, catalog.AttributeInput{Key: "secret", Name: &name}); err != nil {
		t.Fatal(err)
	}
	rep, err := e.im.DryRun(e.ctx, admin, e.tn, []byte("First name,Last name,Email,Department,Job profile,Role,Language\nA,B,a@example.com,Secret department,Driver,Staff,en\n"))
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, rep, `refused: row 2, column "Department": "Secret department" is not one of the tenant's departments; choose one from the drop-down list`)
}

func testRefusals(t *testing.T, e *env) {
	run := func(data []byte) error {
		_, err := e.im.DryRun(e.ctx, admin, e.tn, data)
		return err
	}
	wantRefused(t, run([]byte("First name,Shoe size\nA,42\n")), `row 1, column B: "Shoe size" is not a column usher knows`)
	wantRefused(t, run([]byte("First name,Vorname\nA,B\n")), `row 1: columns A ("First name") and B ("Vorname") are the same column`)
	wantRefused(t, run([]byte{}), "the file is empty")
	wantRefused(t, run([]byte("\x00\x01\x02garbage")), "neither an Excel workbook (.xlsx) nor CSV")
	wantRefused(t, run([]byte{0xD0, 0xCF, 0x11, 0xE0, 0, 0}), "old Excel file (.xls)")
	wantRefused(t, run([]byte("PK\x03\x04 not really a zip")), "is not one")

	small := imports.New(e.st, e.svc)
	small.Limits.MaxBytes = 100
	_, err := small.DryRun(e.ctx, admin, e.tn, bytes.Repeat([]byte("x"), 101))
	wantRefused(t, err, "the file is 101 bytes; the limit is 100 bytes")

	// 1,000,001 rows: refused before any is checked.
	var b bytes.Buffer
	b.WriteString("First name\n")
	for range 1_000_001 {
		b.WriteString("x\n")
	}
	wantRefused(t, run(b.Bytes()), "the file has more than 1000000 rows")

	// A zip bomb: 50 MB of zeros in a few kilobytes.
	var z bytes.Buffer
	zw := zip.NewWriter(&z)
	w, _ := zw.Create("xl/worksheets/sheet1.xml")
	zero := make([]byte, 1<<20)
	for range 50 {
		w.Write(zero)
	}
	zw.Close()
	wantRefused(t, run(z.Bytes()), "out of proportion for a spreadsheet")

	// XXE: the template with a sheet that declares an external entity.
	tpl, err := e.im.TemplateXLSX(e.ctx, e.tn, "en")
	if err != nil {
		t.Fatal(err)
	}
	wantRefused(t, run(rewrite(t, tpl, "xl/worksheets/sheet1.xml", func(s string) string {
		return strings.Replace(s, "?>", `?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>`, 1)
	})), "part xl/worksheets/sheet1.xml of the workbook declares XML entities")

	// A workbook's header refusal names the sheet read.
	g := excelize.NewFile()
	g.SetSheetRow("Sheet1", "A1", &[]any{"Shoe size"})
	var gb bytes.Buffer
	g.WriteTo(&gb)
	wantRefused(t, run(gb.Bytes()), `sheet "Sheet1", row 1, column A: "Shoe size" is not a column usher knows`)

	// A hidden first sheet is not read: the visible one is.
	f := excelize.NewFile()
	f.SetSheetRow("Sheet1", "A1", &[]any{"Shoe size"})
	f.NewSheet("People")
	f.SetSheetRow("People", "A1", &[]any{"First name", "Last name", "Email", "Department", "Job profile", "Role", "Language"})
	f.SetSheetRow("People", "A2", &[]any{"A", "B", "ab@example.com", "Sales", "Driver", "Staff", "en"})
	// Rows 3 and 4 are not in the file at all: row 5 is still row 5.
	f.SetSheetRow("People", "A5", &[]any{"C", "D", "cd@example.com", "Sales", "Driver", "Staff", "xx"})
	f.SetActiveSheet(1)
	if err := f.SetSheetVisible("Sheet1", false); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	f.WriteTo(&buf)
	rep, err := e.im.DryRun(e.ctx, admin, e.tn, buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, rep, "row 2: create", `refused: row 5, column "Language": "xx" is not one of the tenant's languages (en, nl, de, fr, sv, nb)`)
}

// rewrite returns the zip data with one entry changed by fn.
func rewrite(t *testing.T, data []byte, name string, fn func(string) string) []byte {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	zw := zip.NewWriter(&out)
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		rc.Close()
		if f.Name == name {
			b = []byte(fn(string(b)))
		}
		w, _ := zw.Create(f.Name)
		w.Write(b)
	}
	zw.Close()
	return out.Bytes()
}

// testDryRunJSON: the dry run sent from its spooled results is the report
// encoded whole, byte for byte, for a file of rows with problems and
// characters JSON escapes, and for a header alone; the one-at-a-time dry
// run gives the same results in order; no temporary file stays.
func testDryRunJSON(t *testing.T, e *env) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	for _, in := range []string{
		"First name;Last name;Email;Department;Job profile;Role;Language\n" +
			"A<b>&c;Smith;a@example.com;Sales;Driver;Staff;en\n" +
			"Bo;\"Quote \"\"x\"\"\";bo@example.com;Marketing;Driver;Staff;en\n" +
			"Cy;Smith;a@example.com;Sales;Driver;Staff;en\n",
		"First name;Last name;Email\n",
	} {
		want, err := e.im.DryRun(e.ctx, admin, e.tn, []byte(in))
		if err != nil {
			t.Fatal(err)
		}
		var whole bytes.Buffer
		json.NewEncoder(&whole).Encode(want)
		send, err := e.im.DryRunJSONFrom(e.ctx, admin, e.tn, strings.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		var sent bytes.Buffer
		if err := send(&sent); err != nil {
			t.Fatal(err)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, sent.Bytes()); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, sent.String())
		}
		if compact.String()+"\n" != whole.String() {
			t.Errorf("sent:\n%s\nwant:\n%s", compact.String(), whole.String())
		}
		var each []imports.RowResult
		rep, err := e.im.DryRunEachFrom(e.ctx, admin, e.tn, strings.NewReader(in), func(r imports.RowResult) error {
			each = append(each, r)
			return nil
		})
		if err != nil || rep.Results != nil || rep.Rows != want.Rows || rep.Refused != want.Refused || len(each) != len(want.Results) {
			t.Errorf("one at a time: %+v, %d results, %v", rep, len(each), err)
		}
		for i := range each {
			if each[i].Row != want.Results[i].Row || each[i].Result != want.Results[i].Result {
				t.Errorf("result %d: %+v, want %+v", i, each[i], want.Results[i])
			}
		}
	}
	if _, err := e.im.DryRunJSONFrom(e.ctx, admin, e.tn, strings.NewReader("\x00\x01\x02garbage")); err == nil {
		t.Error("garbage was checked")
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

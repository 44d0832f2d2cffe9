package imports_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/imports"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/store/storetest"
)

// The files in testdata/libreoffice were saved by LibreOffice from the
// template of the tenant newEnv makes (README.md there says how). Each is
// the same nine people; the tests read them as they are and never need
// LibreOffice.

func TestLibreOfficeFixturesSQLite(t *testing.T) { runFixtures(t, storetest.OpenSQLite) }

func TestLibreOfficeFixturesPostgres(t *testing.T) {
	if storetest.PostgresURL() == "" {
		t.Skip("USHER_TEST_POSTGRES_URL is not set: the LibreOffice fixtures did not run on PostgreSQL")
	}
	runFixtures(t, storetest.OpenPostgres)
}

// TestLibreOfficeTemplate: the fixtures were filled from the template the
// product makes today (the same columns, in the same order), so they test
// what a person downloads. With USHER_WRITE_TEMPLATE naming a file it also
// writes that template there, to make the fixtures again.
func TestLibreOfficeTemplate(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite)
	data, err := e.im.TemplateXLSX(e.ctx, e.tn, "en")
	if err != nil {
		t.Fatal(err)
	}
	if out := os.Getenv("USHER_WRITE_TEMPLATE"); out != "" {
		if err := os.WriteFile(out, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	header := func(name string, r io.Reader) []string {
		t.Helper()
		f, err := excelize.OpenReader(r)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		defer f.Close()
		rows, err := f.GetRows(f.GetSheetList()[0])
		if err != nil || len(rows) == 0 {
			t.Fatalf("%s: no header row (%v)", name, err)
		}
		return rows[0]
	}
	fixture, err := os.Open(filepath.Join("testdata", "libreoffice", "people.xlsx"))
	if err != nil {
		t.Fatal(err)
	}
	defer fixture.Close()
	want, got := header("template", bytes.NewReader(data)), header("people.xlsx", fixture)
	if !slices.Equal(got, want) {
		t.Fatalf("the fixtures' columns are not the template's: make them again (testdata/libreoffice/README.md)\nfixture:  %q\ntemplate: %q", got, want)
	}
}

func runFixtures(t *testing.T, open func(testing.TB, func() time.Time) *store.Store) {
	for _, tc := range []struct {
		file, format string
		// externalID is row 5's date as read: LibreOffice's CSV writes it
		// as shown; the workbook keeps the day's serial number (45352) in
		// a date format, which the reader gives as ISO 8601, as every
		// date, while it gives every other number raw.
		externalID string
	}{
		{"people.xlsx", "xlsx", "2024-03-01"},
		{"people-semicolon.csv", "csv", "2024-03-01"},
		{"people-utf16.txt", "csv", "2024-03-01"},
	} {
		t.Run(tc.file, func(t *testing.T) {
			e := newEnv(t, open)
			data, err := os.ReadFile(filepath.Join("testdata", "libreoffice", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			fixtureDryRun(t, e, data, tc.format)
			fixtureCells(t, e, data, tc.externalID)
			if tc.format == "xlsx" {
				fixtureImport(t, e, data, tc.externalID)
			}
		})
	}
}

// reportLines are a report's rows, each with its result, and under each
// its problems by column.
func reportLines(t *testing.T, r imports.Report) []string {
	t.Helper()
	var out []string
	for _, x := range r.Results {
		out = append(out, fmt.Sprintf("row %d: %s", x.Row, x.Result))
		for _, p := range x.Problems {
			out = append(out, fmt.Sprintf("  %q: %s", p.Column, p.Message))
			if want := fmt.Sprintf("row %d, column %q: %s", x.Row, p.Column, p.Message); p.Text != want {
				t.Errorf("text %q, want %q", p.Text, want)
			}
		}
	}
	return out
}

func wantReport(t *testing.T, r imports.Report, want ...string) {
	t.Helper()
	if got := reportLines(t, r); !slices.Equal(got, want) {
		t.Errorf("report:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

const phoneAsNumber = "47123456780 has no +, as a spreadsheet keeps a phone number stored as a number; " +
	"format the column as text and type the number with + and the country code, like +31 6 1234 5678"

// fixtureDryRun: rows 11 and 12 are blank (one holds spaces, one only
// colours) and are no rows; row 10's line break is not a new row.
func fixtureDryRun(t *testing.T, e *env, data []byte, format string) {
	rep, err := e.im.DryRun(e.ctx, admin, e.tn, data)
	if err != nil {
		t.Fatal(err)
	}
	wantReport(t, rep,
		"row 2: create",
		"row 3: create",
		"row 4: refused",
		`  "Phone": `+phoneAsNumber,
		"row 5: create",
		"row 6: create",
		"row 7: refused",
		`  "Email": also used by another person in this file, row 8`,
		"row 8: refused",
		`  "Email": already used by another person in this file, row 7`,
		"row 9: refused",
		`  "Department *": "Marketing" is not one of the tenant's departments; choose one from the drop-down list`,
		"row 10: create",
	)
	if rep.Format != format || !rep.DryRun || rep.Rows != 9 || rep.ToCreate != 5 || rep.Skipped != 0 || rep.Refused != 4 || rep.Created != 0 ||
		len(rep.Seats) != 1 || rep.Seats[0] != (imports.PlanSeats{PlanID: e.plan.ID, Plan: "Basic", Needed: 5, Free: 10}) {
		t.Errorf("counts %+v", rep)
	}
	wantHead := []string{"First name *", "Last name *", "Email", "Phone", "Username", "Organization", "Department *", "Job profile *",
		"Role *", "Plan", "Primary group", "Other groups", "Language *", "External ID", "One-time password"}
	if !slices.Equal(rep.Columns, wantHead) {
		t.Errorf("columns %q", rep.Columns)
	}
	if n := e.count(); n != 0 {
		t.Fatalf("the dry run created %d accounts", n)
	}
}

// fixtureCells checks every cell as the reader gives it, through the check
// as a file: accents from Windows-1252 and UTF-16, spaces trimmed, the
// formulas' cached values, the phone kept as a number, the line break.
func fixtureCells(t *testing.T, e *env, data []byte, externalID string) {
	out, err := e.im.CheckFile(e.ctx, admin, e.tn, data, "csv")
	if err != nil {
		t.Fatal(err)
	}
	want := "\uFEFFFirst name *,Last name *,Email,Phone,Username,Organization,Department *,Job profile *,Role *,Plan,Primary group,Other groups,Language *,External ID,One-time password,usher: row,usher: result,usher: problems\n" +
		"Jürgen,Müller,jurgen@example.com,'+49 170 1234567,,Partner Ltd,Sales,Driver,Staff,Basic,Night shift,Day shift,de,,,2,to create,\n" +
		"Zoë,Größe,zoe@example.com,,,,sales,DRIVER,staff,,,,fr,,,3,to create,\n" +
		`Piet,Pot,piet@example.com,47123456780,,,Sales,Driver,Staff,,,,nl,,,4,refused,"row 4, column ""Phone"": ` + phoneAsNumber + "\"\n" +
		"Dora,Dean,dora@example.com,,,,Sales,Driver,Staff,,,,en," + externalID + ",,5,to create,\n" +
		"Karin,Lund,karin.lund@example.com,,,,Sales,Driver,Staff,,,,sv,1234,,6,to create,\n" +
		`Lars,Holm,lars@example.com,,,,Sales,Driver,Staff,,,,nb,,,7,refused,"row 7, column ""Email"": also used by another person in this file, row 8"` + "\n" +
		`Lara,Holm,LARS@example.com,,,,Sales,Driver,Staff,,,,nb,,,8,refused,"row 8, column ""Email"": already used by another person in this file, row 7"` + "\n" +
		`Šárka,O’Neill,sarka@example.com,,,,Marketing,Driver,Staff,,,,en,,,9,refused,"row 9, column ""Department *"": ""Marketing"" is not one of the tenant's departments; choose one from the drop-down list"` + "\n" +
		"Noor,de Vries,noor@example.com,,noor,,Sales,Driver,Staff,,Day shift,\"Day shift\nNight shift\",nl,,,10,to create,\n"
	if string(out) != want {
		t.Errorf("cells as read:\n%s\nwant:\n%s", out, want)
	}
}

// fixtureImport imports the workbook, checks the people it made, and
// imports it again: the people it made are skipped.
func fixtureImport(t *testing.T, e *env, data []byte, externalID string) {
	rep, err := e.im.Import(e.ctx, admin, e.tn, "people.xlsx", data)
	if err != nil {
		t.Fatal(err)
	}
	wantReport(t, rep,
		"row 2: created",
		"row 3: created",
		"row 4: refused",
		`  "Phone": `+phoneAsNumber,
		"row 5: created",
		"row 6: created",
		"row 7: refused",
		`  "Email": also used by another person in this file, row 8`,
		"row 8: refused",
		`  "Email": already used by another person in this file, row 7`,
		"row 9: refused",
		`  "Department *": "Marketing" is not one of the tenant's departments; choose one from the drop-down list`,
		"row 10: created",
	)
	if rep.DryRun || rep.Rows != 9 || rep.Created != 5 || rep.Skipped != 0 || rep.Refused != 4 {
		t.Errorf("counts %+v", rep)
	}
	if n := e.count(); n != 5 {
		t.Errorf("%d accounts, want 5", n)
	}
	names := map[string]string{} // catalogue ids to names
	for _, kind := range []string{usher.KindDepartment, usher.KindJobProfile, usher.KindRole, usher.KindGroup} {
		as, _, err := e.st.Read().Attributes(e.ctx, e.tn.ID, kind, true, store.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range as {
			names[a.ID] = a.Name
		}
	}
	type person struct {
		first, last, email, phone, username, org, lang, externalID, primary string
		groups                                                              []string
	}
	got := map[int]person{}
	for _, x := range rep.Results {
		if x.Result != imports.ResultCreated {
			continue
		}
		p, err := e.st.Read().Person(e.ctx, e.tn.ID, x.PersonID)
		if err != nil {
			t.Fatal(err)
		}
		a, err := e.st.Read().Account(e.ctx, e.tn.ID, x.AccountID)
		if err != nil {
			t.Fatal(err)
		}
		o, err := e.st.Read().Organization(e.ctx, e.tn.ID, p.OrganizationID)
		if err != nil {
			t.Fatal(err)
		}
		if names[p.DepartmentID] != "Sales" || names[p.JobProfileID] != "Driver" || names[a.RoleID] != "Staff" || a.PlanID != e.plan.ID || a.PersonID != p.ID {
			t.Errorf("row %d: %+v %+v", x.Row, p, a)
		}
		var groups []string
		for _, g := range a.GroupIDs {
			groups = append(groups, names[g])
		}
		slices.Sort(groups)
		got[x.Row] = person{p.FirstName, p.LastName, a.Email, a.Phone, a.Username, o.Name, p.Language, p.ExternalID, names[a.PrimaryGroupID], groups}
	}
	// Row 10's cell of other groups is "Day shift", a line break and "Night
	// shift"; the primary group is not kept among the others.
	want := map[int]person{
		2:  {"Jürgen", "Müller", "jurgen@example.com", "+491701234567", "", "Partner Ltd", "de", "", "Night shift", []string{"Day shift"}},
		3:  {"Zoë", "Größe", "zoe@example.com", "", "", "Tenant acme", "fr", "", "", nil},
		5:  {"Dora", "Dean", "dora@example.com", "", "", "Tenant acme", "en", externalID, "", nil},
		6:  {"Karin", "Lund", "karin.lund@example.com", "", "", "Tenant acme", "sv", "1234", "", nil},
		10: {"Noor", "de Vries", "noor@example.com", "", "noor", "Tenant acme", "nl", "", "Day shift", []string{"Night shift"}},
	}
	for row, w := range want {
		if g := got[row]; fmt.Sprint(g) != fmt.Sprint(w) {
			t.Errorf("row %d created %+v, want %+v", row, g, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("created rows %v", got)
	}

	rep, err = e.im.Import(e.ctx, admin, e.tn, "people.xlsx", data)
	if err != nil {
		t.Fatal(err)
	}
	existing := func(column, id string) string {
		return fmt.Sprintf("  %q: %s already signs in to an account of this tenant; an import does not change existing people", column, id)
	}
	wantReport(t, rep,
		"row 2: skipped", existing("Email", "jurgen@example.com"), existing("Phone", "+491701234567"),
		"row 3: skipped", existing("Email", "zoe@example.com"),
		"row 4: refused", `  "Phone": `+phoneAsNumber,
		"row 5: skipped", existing("Email", "dora@example.com"),
		"row 6: skipped", existing("Email", "karin.lund@example.com"),
		"row 7: refused", `  "Email": also used by another person in this file, row 8`,
		"row 8: refused", `  "Email": already used by another person in this file, row 7`,
		"row 9: refused", `  "Department *": "Marketing" is not one of the tenant's departments; choose one from the drop-down list`,
		"row 10: skipped", existing("Email", "noor@example.com"), existing("Username", "noor"),
	)
	if rep.Created != 0 || rep.Skipped != 5 || rep.Refused != 4 {
		t.Errorf("again: counts %+v", rep)
	}
	if n := e.count(); n != 5 {
		t.Errorf("again: %d accounts, want 5", n)
	}
}

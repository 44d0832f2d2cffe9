package imports_test

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

// A date cell of the workbooks testDates writes: its value in the 1900
// system (in the 1904 system a date is 1462 days less, a time the same),
// its number format (a built-in id, or a custom code) and what the import
// reads.
type dateCase struct {
	value   any
	numFmt  int
	custom  string
	want    string
	isDate  bool // a day's number: 1462 days less in the 1904 system
	formula string
}

var dateCases = []dateCase{
	{value: 45352, numFmt: 14, want: "2024-03-01", isDate: true},
	{value: 45353, custom: "dd.mm.yyyy", want: "2024-03-02", isDate: true},
	{value: 45354.395833333336, custom: "yyyy-mm-dd hh:mm", want: "2024-03-03T09:30:00", isDate: true},
	{value: 0.3958449074074074, custom: "hh:mm:ss", want: "09:30:01"},
	{value: 45355, custom: `d" de "mmmm" de "yyyy`, want: "2024-03-04", isDate: true},
	{value: 1.5, custom: "[h]:mm:ss", want: "36:00:00"},
	{value: 0.75, custom: "h:mm AM/PM", want: "18:00:00"},
	{value: 45358, custom: "[$-407]YYYY-MM-DD", want: "2024-03-07", isDate: true}, // as LibreOffice writes it
	// Not dates: they stay raw.
	{value: 612345678, custom: "0000000000", want: "612345678"},
	{value: 0.25, numFmt: 9, want: "0.25"},
	{value: 1234, custom: `#,##0.00\ [$€-407];[RED]\-#,##0.00\ [$€-407]`, want: "1234"},
	{value: 1234, want: "1234"},
	{value: "2024-03-05", numFmt: 14, want: "2024-03-05"}, // text in a date format
	// A formula's cached value in a date format.
	{value: 45357, custom: "dd.mm.yyyy", formula: "DATE(2024,3,6)", want: "2024-03-06", isDate: true},
}

// testDates reads a workbook of date cells in the External ID column, and
// one each in Username and One-time password, in the 1900 and the 1904
// date system, through the check of the file, as the dry run reads it.
func testDates(t *testing.T, e *env) {
	for _, date1904 := range []bool{false, true} {
		t.Run(fmt.Sprintf("1904=%v", date1904), func(t *testing.T) {
			data := datesWorkbook(t, date1904)
			out, err := e.im.CheckFile(e.ctx, admin, e.tn, data, "csv")
			if err != nil {
				t.Fatal(err)
			}
			recs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(out, []byte("\uFEFF")))).ReadAll()
			if err != nil {
				t.Fatal(err)
			}
			col := func(name string) int {
				i := slices.Index(recs[0], name)
				if i < 0 {
					t.Fatalf("no column %q in %q", name, recs[0])
				}
				return i
			}
			ext, user, otp := col("External ID"), col("Username"), col("One-time password")
			if len(recs) != len(dateCases)+1 {
				t.Fatalf("%d rows:\n%s", len(recs)-1, out)
			}
			for i, c := range dateCases {
				if got := recs[i+1][ext]; got != c.want {
					t.Errorf("row %d, %v in %d %q: read %q, want %q", i+2, c.value, c.numFmt, c.custom, got, c.want)
				}
			}
			if got := recs[1][user]; got != "2024-03-09" {
				t.Errorf("username %q, want 2024-03-09", got)
			}
			if got := recs[1][otp]; got != "12:00:00" {
				t.Errorf("one-time password %q, want 12:00:00", got)
			}
		})
	}
}

func datesWorkbook(t *testing.T, date1904 bool) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetWorkbookProps(&excelize.WorkbookPropsOptions{Date1904: &date1904}); err != nil {
		t.Fatal(err)
	}
	style := func(numFmt int, custom string) int {
		t.Helper()
		s := &excelize.Style{NumFmt: numFmt}
		if custom != "" {
			s.CustomNumFmt = &custom
		}
		id, err := f.NewStyle(s)
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	day := func(v float64) float64 {
		if date1904 {
			return v - 1462
		}
		return v
	}
	set := func(cell string, v any, styleID int) {
		t.Helper()
		if err := f.SetCellValue("Sheet1", cell, v); err != nil {
			t.Fatal(err)
		}
		if err := f.SetCellStyle("Sheet1", cell, cell, styleID); err != nil {
			t.Fatal(err)
		}
	}
	f.SetSheetRow("Sheet1", "A1", &[]any{"First name", "Last name", "Email", "Department", "Job profile", "Role", "Language", "External ID", "Username", "One-time password"})
	for i, c := range dateCases {
		row := i + 2
		f.SetSheetRow("Sheet1", fmt.Sprintf("A%d", row), &[]any{"Date", fmt.Sprintf("Row %d", row), fmt.Sprintf("d%d@example.com", row), "Sales", "Driver", "Staff", "en"})
		v := c.value
		if n, ok := v.(float64); ok && c.isDate {
			v = day(n)
		} else if n, ok := v.(int); ok && c.isDate {
			v = day(float64(n))
		}
		cell := fmt.Sprintf("H%d", row)
		set(cell, v, style(c.numFmt, c.custom))
		if c.formula != "" {
			if err := f.SetCellFormula("Sheet1", cell, c.formula); err != nil {
				t.Fatal(err)
			}
		}
	}
	set("I2", day(45360), style(0, "dd.mm.yyyy"))
	set("J2", 0.5, style(0, "hh:mm"))
	var buf bytes.Buffer
	if _, err := f.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf(`date1904="%v"`, date1904); date1904 && !strings.Contains(string(unzipPart(t, buf.Bytes(), "xl/workbook.xml")), want) {
		t.Fatalf("the workbook does not say %s", want)
	}
	// A formula of a number as Excel saves it: excelize marks every
	// formula's result as text (t="str"), Excel a number's as none.
	return rewrite(t, buf.Bytes(), "xl/worksheets/sheet1.xml", func(s string) string {
		return regexp.MustCompile(`(<c [^>]*) t="str"(><f>)`).ReplaceAllString(s, "$1$2")
	})
}

// unzipPart is the text of a part of a workbook.
func unzipPart(t *testing.T, data []byte, name string) []byte {
	t.Helper()
	var part []byte
	rewrite(t, data, name, func(s string) string {
		part = []byte(s)
		return s
	})
	if part == nil {
		t.Fatalf("no part %s", name)
	}
	return part
}

// testDateExternalID: a date typed in External ID makes a person whose
// external id is the date, as the person saw it.
func testDateExternalID(t *testing.T, e *env) {
	f := excelize.NewFile()
	defer f.Close()
	f.SetSheetRow("Sheet1", "A1", &[]any{"First name", "Last name", "Email", "Department", "Job profile", "Role", "Language", "External ID"})
	f.SetSheetRow("Sheet1", "A2", &[]any{"Dora", "Dean", "dora@example.com", "Sales", "Driver", "Staff", "en", 45352})
	custom := "dd.mm.yyyy"
	s, err := f.NewStyle(&excelize.Style{CustomNumFmt: &custom})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.SetCellStyle("Sheet1", "H2", "H2", s); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := f.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	rep, err := e.im.DryRun(e.ctx, admin, e.tn, buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, rep, "row 2: create")
	rep, err = e.im.Import(e.ctx, admin, e.tn, "dates.xlsx", buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	wantLines(t, rep, "row 2: created")
	p, err := e.st.Read().Person(e.ctx, e.tn.ID, rep.Results[0].PersonID)
	if err != nil || p.ExternalID != "2024-03-01" {
		t.Errorf("external id %q, want 2024-03-01 (%v)", p.ExternalID, err)
	}
}

// testDatesInStep: the styles are read in step with the values of the
// sheet read, not the first one (hidden here, with dates where the other
// has none), across rows the sheet leaves out, and with rows and cells
// that give no reference (r), as some programs write them.
func testDatesInStep(t *testing.T, e *env) {
	f := excelize.NewFile()
	defer f.Close()
	custom := "dd.mm.yyyy"
	date, err := f.NewStyle(&excelize.Style{CustomNumFmt: &custom})
	if err != nil {
		t.Fatal(err)
	}
	people, err := f.NewSheet("People")
	if err != nil {
		t.Fatal(err)
	}
	f.SetActiveSheet(people) // the active sheet cannot be hidden
	if err := f.SetSheetVisible("Sheet1", false); err != nil {
		t.Fatal(err)
	}
	for row := 1; row <= 9; row++ {
		for col := 1; col <= 8; col++ {
			cell, _ := excelize.CoordinatesToCellName(col, row)
			f.SetCellValue("Sheet1", cell, 45000+row)
			f.SetCellStyle("Sheet1", cell, cell, date)
		}
	}
	f.SetSheetRow("People", "A1", &[]any{"First name", "Last name", "Email", "Department", "Job profile", "Role", "Language", "External ID"})
	for _, r := range []struct {
		row   int
		id    any
		style int
	}{{2, 45352, date}, {5, 1234, 0}, {6, 45353, date}} {
		f.SetSheetRow("People", fmt.Sprintf("A%d", r.row), &[]any{"P", fmt.Sprintf("Row %d", r.row), fmt.Sprintf("p%d@example.com", r.row), "Sales", "Driver", "Staff", "en", r.id})
		cell := fmt.Sprintf("H%d", r.row)
		f.SetCellStyle("People", cell, cell, r.style)
	}
	var buf bytes.Buffer
	if _, err := f.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	unzipPart(t, buf.Bytes(), "xl/worksheets/sheet2.xml") // People's part is not the first
	noRefs := rewrite(t, buf.Bytes(), "xl/worksheets/sheet2.xml", func(s string) string {
		return regexp.MustCompile(`(<(?:row|c)) r="[A-Z]*[0-9]+"`).ReplaceAllString(s, "$1")
	})
	for name, tc := range map[string]struct {
		data []byte
		rows []string
	}{
		"refs":    {buf.Bytes(), []string{"2", "5", "6"}},
		"no refs": {noRefs, []string{"2", "3", "4"}},
	} {
		out, err := e.im.CheckFile(e.ctx, admin, e.tn, tc.data, "csv")
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(out, []byte("\uFEFF")))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		ext, num := slices.Index(recs[0], "External ID"), slices.Index(recs[0], "usher: row")
		var got []string
		for _, rec := range recs[1:] {
			got = append(got, rec[num]+": "+rec[ext])
		}
		want := []string{tc.rows[0] + ": 2024-03-01", tc.rows[1] + ": 1234", tc.rows[2] + ": 2024-03-02"}
		if !slices.Equal(got, want) {
			t.Errorf("%s: read %q, want %q", name, got, want)
		}
	}
}

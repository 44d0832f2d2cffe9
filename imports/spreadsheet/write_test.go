package spreadsheet_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/usherhq/usher/imports/spreadsheet"
)

// TestWriteRead: what NewWriter writes, Read gives back, in both formats:
// the same cells, trimmed as Read trims them, with the same row numbers.
// CSV makes a value a spreadsheet would take for a formula text with a
// leading apostrophe, which stays; XLSX writes every value as text, so
// nothing needs it. XLSX has no cell for an empty value, so a row ends at
// its last value there.
func TestWriteRead(t *testing.T) {
	header := []string{"First name", "Email", "Note"}
	lines := []struct{ in, csv, xlsx []string }{
		{[]string{`=HYPERLINK("http://evil.example")`, "+31 6 1234 5678", "-5"},
			[]string{`'=HYPERLINK("http://evil.example")`, "'+31 6 1234 5678", "'-5"},
			[]string{`=HYPERLINK("http://evil.example")`, "+31 6 1234 5678", "-5"}},
		{[]string{"@SUM(A1)", "\tx", "\r\ny"},
			[]string{"'@SUM(A1)", "'\tx", "'\ny"}, // encoding/csv reads a quoted \r\n as \n
			[]string{"@SUM(A1)", "x", "y"}},
		{[]string{"  spaces  ", "line\nbreak", "emoji 🙂 and ß"},
			[]string{"spaces", "line\nbreak", "emoji 🙂 and ß"},
			[]string{"spaces", "line\nbreak", "emoji 🙂 and ß"}},
		{[]string{"", "", ""}, nil, nil}, // a blank row: no row read
		{[]string{"007", "2024-03-01", "4712345678"},
			[]string{"007", "2024-03-01", "4712345678"},
			[]string{"007", "2024-03-01", "4712345678"}},
		{[]string{"_x0041_", "a,b;c\td", `say "hi"`},
			[]string{"_x0041_", "a,b;c\td", `say "hi"`},
			[]string{"_x0041_", "a,b;c\td", `say "hi"`}},
		{[]string{"", "gap", ""},
			[]string{"", "gap", ""},
			[]string{"", "gap"}},
		{[]string{"a=b", "x-y", "1+1"},
			[]string{"a=b", "x-y", "1+1"},
			[]string{"a=b", "x-y", "1+1"}},
		{[]string{"last"}, []string{"last"}, []string{"last"}},
	}
	for _, format := range []string{"csv", "xlsx"} {
		t.Run(format, func(t *testing.T) {
			var buf bytes.Buffer
			w, err := spreadsheet.NewWriter(&buf, format, "People & Co")
			check(t, err)
			check(t, w.Write(header))
			want := sheet{format, header, nil}
			for i, l := range lines {
				check(t, w.Write(l.in))
				cells := l.csv
				if format == "xlsx" {
					cells = l.xlsx
				}
				if cells != nil {
					want.rows = append(want.rows, row{i + 2, cells})
				}
			}
			check(t, w.Close())
			if format == "csv" && !strings.HasPrefix(buf.String(), "\uFEFFFirst name,Email,Note\n") {
				t.Errorf("csv %q", buf.String()[:min(40, buf.Len())])
			}
			got, err := read(t.Context(), spreadsheet.Bytes(buf.Bytes()), spreadsheet.DefaultLimits)
			wantSheet(t, got, err, want)

			// A workbook's refusal names its sheet, as written.
			err = spreadsheet.Read(t.Context(), spreadsheet.Bytes(buf.Bytes()), spreadsheet.Limits{}, func(string, []string) (spreadsheet.RowFunc, error) {
				return nil, spreadsheet.Refuse("no")
			})
			msg := "no"
			if format == "xlsx" {
				msg = `sheet "People & Co", no`
			}
			wantRefusal(t, err, msg)
		})
	}
}

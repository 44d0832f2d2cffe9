package spreadsheet

import (
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
)

// TestFormatKind: the number formats that show a date or a time, and
// those that look like one but show a number or text.
func TestFormatKind(t *testing.T) {
	for code, want := range map[string]dateKind{
		"General":                  notDate,
		"0":                        notDate,
		"0.00":                     notDate,
		"@":                        notDate,
		"#,##0":                    notDate,
		"0000000000":               notDate,
		"0%":                       notDate,
		"0.00E+00":                 notDate,
		"0.00e-00":                 notDate,
		`0" days"`:                 notDate,
		`0\d`:                      notDate,
		"[Red]0.00;[Blue]-0.00":    notDate,
		`#,##0.00\ [$€-407]`:       notDate,
		`_-* #,##0\ "kr"_-`:        notDate,
		"[<=9999999]###-####":      notDate,
		`"Tel: "0000`:              notDate,
		"0;0;;@":                   notDate,
		"yyyy-mm-dd":               kindDate,
		"YYYY-MM-DD":               kindDate,
		"dd.mm.yyyy":               kindDate,
		"m/d/yy":                   kindDate,
		"mmm-yy":                   kindDate,
		"dddd":                     kindDate,
		`d" de "mmmm" de "yyyy`:    kindDate,
		"[$-407]DD. MMMM YYYY":     kindDate,
		"[$-F800]dddd, mmmm dd, y": kindDate,
		"e/m/d":                    kindDate,
		`yyyy"年"m"月"d"日"`:          kindDate,
		"yyyy-mm-dd;@":             kindDate,
		"hh:mm":                    kindTime,
		"hh:mm:ss":                 kindTime,
		"h:mm AM/PM":               kindTime,
		"h:mm a/p":                 kindTime,
		"mm:ss":                    kindTime,
		"mm:ss.0":                  kindTime,
		"[$-F400]h:mm:ss AM/PM":    kindTime,
		"[h]:mm:ss":                kindElapsed,
		"[mm]:ss":                  kindElapsed,
		"[ss]":                     kindElapsed,
		"yyyy-mm-dd hh:mm":         kindDateTime,
		"m/d/yy h:mm":              kindDateTime,
		"dd.mm.yyyy hh:mm:ss":      kindDateTime,
		"yyyy-mm-dd\"T\"hh:mm":     kindDateTime,
	} {
		if got := formatKind(code); got != want {
			t.Errorf("%q: kind %d, want %d", code, got, want)
		}
	}
	for id, want := range map[int]dateKind{0: notDate, 1: notDate, 9: notDate, 49: notDate, 14: kindDate, 17: kindDate,
		18: kindTime, 21: kindTime, 22: kindDateTime, 45: kindTime, 46: kindElapsed, 47: kindTime, 31: kindByValue, 59: notDate} {
		if got := builtinKind(id); got != want {
			t.Errorf("built-in %d: kind %d, want %d", id, got, want)
		}
	}
}

// TestDateText: both date systems, the 1900 system's leap day that never
// was, times rounded to the second, and the numbers no date shows.
func TestDateText(t *testing.T) {
	for _, tc := range []struct {
		raw      string
		kind     dateKind
		date1904 bool
		want     string // "" when raw stays
	}{
		{"1", kindDate, false, "1900-01-01"},
		{"59", kindDate, false, "1900-02-28"},
		{"60", kindDate, false, "1900-02-29"},
		{"61", kindDate, false, "1900-03-01"},
		{"45352", kindDate, false, "2024-03-01"},
		{"45352.99999", kindDate, false, "2024-03-01"},
		{"2958465", kindDate, false, "9999-12-31"},
		{"2958466", kindDate, false, ""},
		{"0", kindDate, false, ""},
		{"-1", kindDate, false, ""},
		{"abc", kindDate, false, ""},
		{"NaN", kindDate, false, ""},
		{"0", kindDate, true, "1904-01-01"},
		{"43890", kindDate, true, "2024-03-01"},
		{"45352.395833333336", kindDateTime, false, "2024-03-01T09:30:00"},
		{"45352.999999999", kindDateTime, false, "2024-03-02T00:00:00"},
		{"0.5", kindDateTime, false, "12:00:00"},
		{"0.5", kindDateTime, true, "1904-01-01T12:00:00"},
		{"0.3958449074074074", kindTime, false, "09:30:01"},
		{"45352.75", kindTime, true, "18:00:00"},
		{"1.5", kindElapsed, false, "36:00:00"},
		{"45352", kindByValue, false, "2024-03-01"},
		{"0.25", kindByValue, false, "06:00:00"},
		{"45352.25", kindByValue, false, "2024-03-01T06:00:00"},
	} {
		got, ok := dateText(tc.raw, tc.kind, tc.date1904)
		if !ok {
			got = ""
		}
		if got != tc.want {
			t.Errorf("%s in kind %d (1904 %v): %q, want %q", tc.raw, tc.kind, tc.date1904, got, tc.want)
		}
	}
}

func TestRefColumn(t *testing.T) {
	for ref, want := range map[string]int{"A1": 0, "Z9": 25, "AA10": 26, "xfd1": 16383} {
		if got, ok := refColumn([]byte(ref)); !ok || got != want {
			t.Errorf("%s: %d %v, want %d", ref, got, ok, want)
		}
	}
	for _, ref := range []string{"", "12", "XFE1"} {
		if _, ok := refColumn([]byte(ref)); ok {
			t.Errorf("%q has a column", ref)
		}
	}
}

// TestTags: the sheet's tag reader sees the tags encoding/xml sees, and
// the r, s and t of rows and cells, past comments, CDATA, processing
// instructions, prefixes, quotes of both kinds, > in values and entities,
// through a buffer smaller than a tag.
func TestTags(t *testing.T) {
	doc := `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<?mso-application progid="Excel.Sheet"?>
<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">
<x:dimension ref="A1:C3"/><!-- <row r="9"><c r="A9" s="1"/></row> - > -->
<x:sheetData>
<x:row r="1" spans="1:3"><x:c r="A1" s="1" t="s"><x:v>0</x:v></x:c><x:c r='B1' s = '2' ><x:f>IF(A1&gt;1,"a>b",'c')</x:f><x:v>45352</x:v></x:c></x:row>
<x:row><x:c s="&#50;"><x:v>1</x:v></x:c><x:c/><x:c r="C2" s="3" t="inlineStr"><x:is><x:t><![CDATA[ a > b <c r="Z1" s="1"> ]]]></x:t></x:is></x:c></x:row>
<x:row r="5" x:custom="a/b>c"/>
<x:row r="6"><x:c r="A6" s="12345678901234567890123456789012345678901234567890123456789012345678901234567890" t="n"><x:v>2</x:v></x:c><x:extLst><x:ext uri="a/>b"><x:c r="Q1"/></x:ext></x:extLst></x:row>
</x:sheetData>
</x:worksheet>`
	var want []string
	dec := xml.NewDecoder(strings.NewReader(doc))
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			line := "<" + el.Name.Local
			if el.Name.Local == "row" || el.Name.Local == "c" {
				var r, s, ty string
				for _, a := range el.Attr {
					switch a.Name.Local {
					case "r":
						r = a.Value
					case "s":
						s = a.Value
					case "t":
						ty = a.Value
					}
				}
				line += fmt.Sprintf(" r=%q s=%.64q t=%q", r, s, ty)
			}
			want = append(want, line)
		case xml.EndElement:
			want = append(want, "</"+el.Name.Local)
		}
	}
	x := &tags{in: bufio.NewReaderSize(strings.NewReader(doc), 16)}
	var got []string
	for {
		kind, err := x.next()
		if err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("after %q: %v", got, err)
		}
		name := string(x.name)
		if kind == tagEnd {
			got = append(got, "</"+name)
			continue
		}
		line := "<" + name
		if name == "row" || name == "c" {
			line += fmt.Sprintf(" r=%q s=%.64q t=%q", x.r, x.s, x.t)
		}
		got = append(got, line)
		if kind == tagEmpty {
			got = append(got, "</"+name)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("tags:\n%s\nencoding/xml:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

package spreadsheet_test

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/usherhq/usher/imports/spreadsheet"
	"github.com/usherhq/usher/imports/spreadsheet/spreadsheettest"
)

// workbook is the workbook build makes of a new excelize file (one sheet,
// "Sheet1").
func workbook(t *testing.T, build func(f *excelize.File)) []byte {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	build(f)
	var buf bytes.Buffer
	if _, err := f.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func setRow(t *testing.T, f *excelize.File, sheet, cell string, values ...any) {
	t.Helper()
	if err := f.SetSheetRow(sheet, cell, &values); err != nil {
		t.Fatal(err)
	}
}

func check(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// part is a zip entry of a workbook written by hand.
type part struct{ name, body string }

func zipOf(t *testing.T, parts ...part) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, p := range parts {
		w, err := zw.Create(p.name)
		check(t, err)
		_, err = io.WriteString(w, p.body)
		check(t, err)
	}
	check(t, zw.Close())
	return b.Bytes()
}

const xmlHeader = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>` + "\n"

// handWorkbook is the parts of a workbook of one sheet, "Sheet1", with
// this state ("" or "hidden") and these rows (the XML of sheetData).
func handWorkbook(state, sheetData string) []part {
	if state != "" {
		state = ` state="` + state + `"`
	}
	return []part{
		{"[Content_Types].xml", xmlHeader + `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
			`<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>` +
			`<Default Extension="xml" ContentType="application/xml"/>` +
			`<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>` +
			`<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>` +
			`</Types>`},
		{"_rels/.rels", xmlHeader + `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
			`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`},
		{"xl/workbook.xml", xmlHeader + `<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">` +
			`<sheets><sheet name="Sheet1" sheetId="1"` + state + ` r:id="rId1"/></sheets></workbook>`},
		{"xl/_rels/workbook.xml.rels", xmlHeader + `<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
			`<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>`},
		{"xl/worksheets/sheet1.xml", xmlHeader + `<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>` +
			sheetData + `</sheetData></worksheet>`},
	}
}

// TestReadXLSX: the first visible sheet, its values as typed (not as
// shown), formulas as last computed, dates as ISO 8601, rows numbered as
// the sheet numbers them, blank rows left out.
func TestReadXLSX(t *testing.T) {
	for _, tc := range []struct {
		name string
		data []byte
		want sheet
	}{
		{"text, shared and inline", workbook(t, func(f *excelize.File) {
			setRow(t, f, "Sheet1", "A1", "First name", " Email ")
			setRow(t, f, "Sheet1", "A2", "  Zoë ", "zoe@example.com")
		}), sheet{"xlsx", []string{"First name", "Email"}, []row{{2, []string{"Zoë", "zoe@example.com"}}}}},
		{"inline strings, by hand", zipOf(t, handWorkbook("",
			`<row r="1"><c r="A1" t="inlineStr"><is><t>Name</t></is></c><c r="B1" t="inlineStr"><is><t>Note</t></is></c></row>`+
				`<row r="2"><c r="A2" t="inlineStr"><is><t xml:space="preserve"> Ana </t></is></c><c r="B2" t="inlineStr"><is><t>a &amp; b</t></is></c></row>`)...),
			sheet{"xlsx", []string{"Name", "Note"}, []row{{2, []string{"Ana", "a & b"}}}}},
		{"numbers as typed", workbook(t, func(f *excelize.File) {
			setRow(t, f, "Sheet1", "A1", "Phone", "Big", "Half", "Text", "Money", "Percent")
			setRow(t, f, "Sheet1", "A2", 4712345678, 4.712345678e10, 1.5, "0612345678", 7, 0.25)
			money, err := f.NewStyle(&excelize.Style{NumFmt: 4}) // #,##0.00
			check(t, err)
			check(t, f.SetCellStyle("Sheet1", "E2", "E2", money))
			percent, err := f.NewStyle(&excelize.Style{NumFmt: 9}) // 0%
			check(t, err)
			check(t, f.SetCellStyle("Sheet1", "F2", "F2", percent))
		}), sheet{"xlsx", []string{"Phone", "Big", "Half", "Text", "Money", "Percent"},
			[]row{{2, []string{"4712345678", "47123456780", "1.5", "0612345678", "7", "0.25"}}}}},
		{"dates as ISO 8601", workbook(t, func(f *excelize.File) {
			setRow(t, f, "Sheet1", "A1", "Date", "Custom", "Date and time", "Text in a date format", "Number")
			setRow(t, f, "Sheet1", "A2", 45352, 45353, 45354.395833333336, "2024-03-05", 45355)
			date, err := f.NewStyle(&excelize.Style{NumFmt: 14})
			check(t, err)
			custom := "dd.mm.yyyy"
			dmy, err := f.NewStyle(&excelize.Style{CustomNumFmt: &custom})
			check(t, err)
			custom = "yyyy-mm-dd hh:mm"
			dateTime, err := f.NewStyle(&excelize.Style{CustomNumFmt: &custom})
			check(t, err)
			check(t, f.SetCellStyle("Sheet1", "A2", "A2", date))
			check(t, f.SetCellStyle("Sheet1", "B2", "B2", dmy))
			check(t, f.SetCellStyle("Sheet1", "C2", "C2", dateTime))
			check(t, f.SetCellStyle("Sheet1", "D2", "D2", date))
		}), sheet{"xlsx", []string{"Date", "Custom", "Date and time", "Text in a date format", "Number"},
			[]row{{2, []string{"2024-03-01", "2024-03-02", "2024-03-03T09:30:00", "2024-03-05", "45355"}}}}},
		{"formulas as last computed, never evaluated", workbook(t, func(f *excelize.File) {
			setRow(t, f, "Sheet1", "A1", "Cached", "Not computed", "Name")
			setRow(t, f, "Sheet1", "A2", 1234, nil, "x")
			check(t, f.SetCellFormula("Sheet1", "A2", "1000+234"))
			check(t, f.SetCellFormula("Sheet1", "B2", "1+2"))
		}), sheet{"xlsx", []string{"Cached", "Not computed", "Name"}, []row{{2, []string{"1234", "", "x"}}}}},
		{"a text formula as Excel saves it", zipOf(t, handWorkbook("",
			`<row r="1"><c r="A1" t="inlineStr"><is><t>Last name</t></is></c></row>`+
				`<row r="2"><c r="A2" t="str"><f>CONCAT("Mu","ller")</f><v>Muller</v></c></row>`)...),
			sheet{"xlsx", []string{"Last name"}, []row{{2, []string{"Muller"}}}}},
		{"rows left out keep their numbers", workbook(t, func(f *excelize.File) {
			setRow(t, f, "Sheet1", "A1", "Name", "Email")
			setRow(t, f, "Sheet1", "A2", "a")
			setRow(t, f, "Sheet1", "B5", "b@example.com")
		}), sheet{"xlsx", []string{"Name", "Email"}, []row{{2, []string{"a"}}, {5, []string{"", "b@example.com"}}}}},
		{"blank rows between and at the end", workbook(t, func(f *excelize.File) {
			setRow(t, f, "Sheet1", "A1", "Name")
			setRow(t, f, "Sheet1", "A2", "a")
			setRow(t, f, "Sheet1", "A3", " ", "")
			setRow(t, f, "Sheet1", "A4", "b")
			check(t, f.SetCellStr("Sheet1", "A20", " "))
			check(t, f.SetCellStr("Sheet1", "C30", "\t"))
		}), sheet{"xlsx", []string{"Name"}, []row{{2, []string{"a"}}, {4, []string{"b"}}}}},
		{"a hidden sheet is not read", workbook(t, func(f *excelize.File) {
			setRow(t, f, "Sheet1", "A1", "Shoe size")
			setRow(t, f, "Sheet1", "A2", 42)
			people, err := f.NewSheet("People")
			check(t, err)
			setRow(t, f, "People", "A1", "Name")
			setRow(t, f, "People", "A2", "Ana")
			f.SetActiveSheet(people) // the active sheet cannot be hidden
			check(t, f.SetSheetVisible("Sheet1", false))
		}), sheet{"xlsx", []string{"Name"}, []row{{2, []string{"Ana"}}}}},
		{"the first visible sheet, not the active one", workbook(t, func(f *excelize.File) {
			setRow(t, f, "Sheet1", "A1", "Name")
			setRow(t, f, "Sheet1", "A2", "first")
			other, err := f.NewSheet("Other")
			check(t, err)
			setRow(t, f, "Other", "A1", "Other")
			f.SetActiveSheet(other)
		}), sheet{"xlsx", []string{"Name"}, []row{{2, []string{"first"}}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := read(t.Context(), spreadsheet.Bytes(tc.data), spreadsheet.DefaultLimits)
			wantSheet(t, got, err, tc.want)
		})
	}
}

// anySource is a source of neither kind Read knows: a workbook from it
// is copied to a temporary file.
type anySource struct{ spreadsheet.Bytes }

// TestReadSources: a file in memory, on disk, or elsewhere reads alike,
// as XLSX and as CSV.
func TestReadSources(t *testing.T) {
	book := workbook(t, func(f *excelize.File) {
		setRow(t, f, "Sheet1", "A1", "Name", "Date")
		setRow(t, f, "Sheet1", "A2", "Ana", 45352)
		date, err := f.NewStyle(&excelize.Style{NumFmt: 14})
		check(t, err)
		check(t, f.SetCellStyle("Sheet1", "B2", "B2", date))
	})
	for format, data := range map[string][]byte{"xlsx": book, "csv": []byte("Name;Date\nAna;2024-03-01\n")} {
		want := sheet{format, []string{"Name", "Date"}, []row{{2, []string{"Ana", "2024-03-01"}}}}
		path := filepath.Join(t.TempDir(), "people."+format)
		// On disk, the file's first bytes only: what follows is not the upload.
		check(t, os.WriteFile(path, append(bytes.Clone(data), "trailing bytes of another upload"...), 0o600))
		f, err := os.Open(path)
		check(t, err)
		defer f.Close()
		for name, src := range map[string]spreadsheet.Source{
			"bytes": spreadsheet.Bytes(data),
			"file":  spreadsheet.File{F: f, N: int64(len(data))},
			"other": anySource{spreadsheet.Bytes(data)},
		} {
			t.Run(format+" "+name, func(t *testing.T) {
				got, err := read(t.Context(), src, spreadsheet.DefaultLimits)
				wantSheet(t, got, err, want)
			})
		}
	}
}

// rawZip is a zip whose entries' headers say what they are told, sizes
// included, whatever their data.
func rawZip(t *testing.T, headers ...zip.FileHeader) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, h := range headers {
		w, err := zw.CreateRaw(&h)
		check(t, err)
		_, err = w.Write(make([]byte, h.CompressedSize64))
		check(t, err)
	}
	check(t, zw.Close())
	return b.Bytes()
}

// TestReadXLSXRefusals: a workbook that is no workbook, a zip bomb,
// entities, a sheet that cannot be read or holds nothing: each refused
// in its words.
func TestReadXLSXRefusals(t *testing.T) {
	// 11 MB of zeros in a few kilobytes: over 10 MB, and over 200 times
	// the file.
	var bomb bytes.Buffer
	zw := zip.NewWriter(&bomb)
	w, err := zw.Create("xl/worksheets/sheet1.xml")
	check(t, err)
	_, err = w.Write(make([]byte, 11<<20))
	check(t, err)
	check(t, zw.Close())
	// Sizes a zip says, not its data: over 2 GB unpacked, and more parts
	// than a workbook has.
	huge := rawZip(t, zip.FileHeader{Name: "xl/worksheets/sheet1.xml", Method: zip.Deflate, CompressedSize64: 1000, UncompressedSize64: 3 << 30})
	many := make([]part, 10_001)
	for i := range many {
		many[i] = part{fmt.Sprintf("xl/media/image%d.png", i), ""}
	}
	manyParts := zipOf(t, many...)
	unreadable := rawZip(t, zip.FileHeader{Name: "xl/workbook.xml", Method: 99, CompressedSize64: 10, UncompressedSize64: 10})
	// Entities, as a sheet, the shared strings or a relationship part
	// would declare them.
	xxe := handWorkbook("", `<row r="1"><c r="A1" t="inlineStr"><is><t>&xxe;</t></is></c></row>`)
	xxe[4].body = strings.Replace(xxe[4].body, "?>", `?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>`, 1)
	lower := handWorkbook("", "")
	lower[1].body = strings.Replace(lower[1].body, "?>", `?><!doctype x>`, 1)
	entity := handWorkbook("", "")
	entity[3].body = strings.Replace(entity[3].body, "?>", `?><!ENTITY lol "lol">`, 1)
	// Past a long comment, and past 1 MB of comments.
	late := handWorkbook("", "")
	late[4].body = strings.Replace(late[4].body, "?>", `?><!--`+strings.Repeat("x", 8000)+`--><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>`, 1)
	// A part in another encoding, which the check's decoder stops on.
	latin := handWorkbook("", "")
	latin[4].body = strings.Replace(latin[4].body, `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`, "<?xml version=\"1.0\" encoding=\"windows-1252\"?>caf\xe9<!DOCTYPE x>", 1)
	longProlog := handWorkbook("", "")
	longProlog[4].body = strings.Replace(longProlog[4].body, "?>", `?>`+strings.Repeat(`<!--`+strings.Repeat("x", 1000)+`-->`, 1100), 1)
	// What excelize cannot read: its words follow the refusal's.
	twoRows := `<row r="1"><c r="A1" t="inlineStr"><is><t>Name</t></is></c></row><row r="2"><c r="A2" t="inlineStr"><is><t>x</t></is></c></row>`
	badWorkbook := handWorkbook("", twoRows)
	badWorkbook[2].body = "<workbook"
	badRef := handWorkbook("", strings.Replace(twoRows, `r="A2"`, `r="!!"`, 1))
	noSheet := handWorkbook("", twoRows)
	noSheet[4].name = "xl/worksheets/other.xml"

	for _, tc := range []struct {
		name string
		data []byte
		msg  string
	}{
		{"a zip of no workbook", zipOf(t, part{"hello.txt", "hi"}), "the file looks like an Excel workbook but cannot be read: EOF"},
		{"a workbook part that is not XML", zipOf(t, badWorkbook...),
			"the file looks like an Excel workbook but cannot be read: XML syntax error on line 1: unexpected EOF"},
		{"a sheet without its part", zipOf(t, noSheet...), `sheet "Sheet1" cannot be read: sheet Sheet1 does not exist`},
		{"a cell reference that is none", zipOf(t, badRef...),
			`sheet "Sheet1", row 2 cannot be read: cannot convert cell "!!" to coordinates: invalid cell name "!!"`},
		{"not a zip", []byte("PK\x03\x04 not really a zip"), "the file starts like a zip (an Excel workbook) but is not one: zip: not a valid zip file"},
		{"a zip bomb", bomb.Bytes(), fmt.Sprintf("the workbook unpacks to 11.0 MB from %d bytes: out of proportion for a spreadsheet (a zip bomb?)", bomb.Len())},
		{"over 2 GB unpacked", huge, fmt.Sprintf("the workbook unpacks to 3072.0 MB from %d bytes: out of proportion for a spreadsheet (a zip bomb?)", len(huge))},
		{"too many parts", manyParts, "the workbook has 10001 parts; a workbook has far fewer (limit 10000)"},
		{"a part that cannot be unpacked", unreadable, "part xl/workbook.xml of the workbook cannot be read: zip: unsupported compression algorithm"},
		{"an external entity", zipOf(t, xxe...), "part xl/worksheets/sheet1.xml of the workbook declares XML entities, which spreadsheets never do"},
		{"a document type in lower case", zipOf(t, lower...), "part _rels/.rels of the workbook declares XML entities, which spreadsheets never do"},
		{"an entity in a relationship part", zipOf(t, entity...), "part xl/_rels/workbook.xml.rels of the workbook declares XML entities, which spreadsheets never do"},
		{"a document type after a long comment", zipOf(t, late...), "part xl/worksheets/sheet1.xml of the workbook declares XML entities, which spreadsheets never do"},
		{"a document type in a part in another encoding", zipOf(t, latin...), "part xl/worksheets/sheet1.xml of the workbook declares XML entities, which spreadsheets never do"},
		{"over 1 MB before the first element", zipOf(t, longProlog...), "part xl/worksheets/sheet1.xml of the workbook holds over 1.0 MB before its first element, which spreadsheets never do"},
		{"no visible sheet", zipOf(t, handWorkbook("hidden", `<row r="1"><c r="A1" t="inlineStr"><is><t>Name</t></is></c></row>`)...),
			"the workbook has no visible sheet"},
		{"an empty sheet", workbook(t, func(*excelize.File) {}), `sheet "Sheet1" is empty`},
		{"a sheet of blanks", workbook(t, func(f *excelize.File) { setRow(t, f, "Sheet1", "B3", " ") }),
			`sheet "Sheet1", row 1, the header, is empty: the first row names the columns`},
		{"the header not in row 1", workbook(t, func(f *excelize.File) { setRow(t, f, "Sheet1", "A2", "Name") }),
			`sheet "Sheet1", row 1, the header, is empty: the first row names the columns`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := read(t.Context(), spreadsheet.Bytes(tc.data), spreadsheet.DefaultLimits)
			wantRefusal(t, err, tc.msg)
		})
	}

	// Over the row limit, rows left out and blank rows not counted.
	book := workbook(t, func(f *excelize.File) {
		setRow(t, f, "Sheet1", "A1", "Name")
		setRow(t, f, "Sheet1", "A2", "a")
		setRow(t, f, "Sheet1", "A3", " ")
		setRow(t, f, "Sheet1", "A7", "b")
		setRow(t, f, "Sheet1", "A8", "c")
	})
	if got, err := read(t.Context(), spreadsheet.Bytes(book), spreadsheet.Limits{MaxRows: 3}); err != nil || len(got.rows) != 3 {
		t.Errorf("3 rows within a limit of 3: %d rows, %v", len(got.rows), err)
	}
	_, err = read(t.Context(), spreadsheet.Bytes(book), spreadsheet.Limits{MaxRows: 2})
	wantRefusal(t, err, "the file has more than 2 rows; split it into several files")
	_, err = read(t.Context(), spreadsheet.Bytes(book), spreadsheet.Limits{MaxBytes: int64(len(book)) - 1})
	wantRefusal(t, err, fmt.Sprintf("the file is %d bytes; the limit is %d bytes", len(book), len(book)-1))
}

// TestReadWorkbook: the shared workbook of people, its rows numbered in
// order and each External ID, a number in a date format, read as its
// date; one row more than the limit is refused.
func TestReadWorkbook(t *testing.T) {
	const n = 2000
	for _, dates := range []bool{false, true} {
		data := spreadsheettest.Workbook(t, n, dates)
		got, err := read(t.Context(), spreadsheet.Bytes(data), spreadsheet.DefaultLimits)
		if err != nil {
			t.Fatal(err)
		}
		if got.format != "xlsx" || len(got.header) != 8 || got.header[7] != "External ID" || len(got.rows) != n {
			t.Fatalf("dates %v: %s %q, %d rows", dates, got.format, got.header, len(got.rows))
		}
		for i, r := range got.rows {
			want := fmt.Sprintf("id%d", i)
			if dates {
				want = time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC).AddDate(0, 0, 10_000+i).Format(time.DateOnly)
			}
			if r.num != i+2 || len(r.cells) != 8 || r.cells[2] != fmt.Sprintf("p%d@example.com", i) || r.cells[7] != want {
				t.Fatalf("dates %v: row %d: %q, want row %d with %s", dates, r.num, r.cells, i+2, want)
			}
		}
		_, err = read(t.Context(), spreadsheet.Bytes(data), spreadsheet.Limits{MaxRows: n - 1})
		wantRefusal(t, err, "the file has more than 1999 rows; split it into several files")
	}
}

package spreadsheet

import (
	"archive/zip"
	"bytes"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/usherhq/usher/imports/spreadsheet/spreadsheettest"
)

// peopleSheet is the sheet's name in the tests, as imports names it.
const peopleSheet = "People"

// TestXLSXSheet: the report's workbook opens in excelize with its sheet,
// every value as text where it was written, nothing a formula, and what
// XML cannot hold replaced rather than breaking the file.
func TestXLSXSheet(t *testing.T) {
	var b bytes.Buffer
	w, err := newXLSXSheet(&b, peopleSheet)
	if err != nil {
		t.Fatal(err)
	}
	lines := [][]string{
		{"First name", "Email", "usher: result"},
		{`=HYPERLINK("http://evil.example")`, "a<b>&\"c\"@example.com", "created"},
		{"", "gap before", "", "after a gap"},
		{"  spaces kept  ", "line\nbreak", "emoji 🙂 and ß"},
		{"bell\x07", "bad \xff utf-8", "+31 6 1234 5678"},
		{"_x0041_", "a_x000D_b", strings.Repeat("x", 40000), strings.Repeat("🙂", 20000)},
	}
	for _, l := range lines {
		if err := w.Write(l); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(b.Bytes()), int64(b.Len()))
	if err != nil {
		t.Fatalf("not a zip: %v", err)
	}
	if len(zr.File) != 5 || zr.File[0].Name != "[Content_Types].xml" {
		t.Errorf("parts %v", zr.File)
	}
	f, err := excelize.OpenReader(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if got := f.GetSheetList(); len(got) != 1 || got[0] != peopleSheet {
		t.Fatalf("sheets %q", got)
	}
	rows, err := f.GetRows(peopleSheet, excelize.Options{RawCellValue: true})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		lines[0], lines[1], lines[2], lines[3],
		{"bell\uFFFD", "bad \uFFFD utf-8", "+31 6 1234 5678"},
		// As typed, not decoded; cut to Excel's 32,767 UTF-16 units.
		{"_x0041_", "a_x000D_b", strings.Repeat("x", 32767), strings.Repeat("🙂", 16383)},
	}
	if len(rows) != len(want) {
		t.Fatalf("%d rows: %q", len(rows), rows)
	}
	for i := range want {
		for j := range want[i] {
			if got := cellAt(rows[i], j); got != want[i][j] {
				t.Errorf("row %d, column %d: %q, want %q", i+1, j+1, got, want[i][j])
			}
		}
	}
	w, _ = newXLSXSheet(io.Discard, peopleSheet)
	if err := w.Write(make([]string, maxSheetColumns+1)); err == nil {
		t.Error("a line of 16,385 columns was written")
	}
	for _, cell := range []string{"A2", "C5"} {
		if fm, _ := f.GetCellFormula(peopleSheet, cell); fm != "" {
			t.Errorf("%s became the formula %q", cell, fm)
		}
		if typ, _ := f.GetCellType(peopleSheet, cell); typ != excelize.CellTypeInlineString {
			t.Errorf("%s is of type %v, not text", cell, typ)
		}
	}
}

func cellAt(row []string, i int) string {
	if i < len(row) {
		return row[i]
	}
	return ""
}

// TestXLSXSheetStreamed: a report of 300,000 rows is written as it goes:
// the live heap grows by less than 4 MB (excelize held the whole zip, about
// 18 MB for these rows, until it was written).
func TestXLSXSheetStreamed(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 300,000 rows")
	}
	var n countingWriter
	w, err := newXLSXSheet(&n, peopleSheet)
	if err != nil {
		t.Fatal(err)
	}
	var h spreadsheettest.HeapPeak
	h.Sample()
	line := []string{"Anna", "", "anna.jansen@example.com", "+31 6 1234 5678", "Sales", "en", "", "created", "", "01a24e6d-8fb4-7714-839b-11b069"}
	for i := range 300_000 {
		line[1] = "Jansen" + strconv.Itoa(i)
		line[6] = strconv.Itoa(i + 2)
		if err := w.Write(line); err != nil {
			t.Fatal(err)
		}
		if i%50_000 == 0 {
			h.Sample()
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	h.Sample()
	t.Logf("%.1f MB written; the live heap grew %.1f MB at most", float64(n)/(1<<20), h.Grew())
	if n < 5<<20 {
		t.Fatalf("only %d bytes written", n)
	}
	if h.Grew() > 4 {
		t.Errorf("the live heap grew %.1f MB: the workbook is held, not streamed", h.Grew())
	}
}

type countingWriter int64

func (c *countingWriter) Write(p []byte) (int, error) {
	*c += countingWriter(len(p))
	return len(p), nil
}

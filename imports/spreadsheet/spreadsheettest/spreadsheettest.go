// Package spreadsheettest holds what the tests and benchmarks of
// spreadsheet and of imports share.
package spreadsheettest

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"

	"github.com/xuri/excelize/v2"
)

// Workbook is a workbook of a header of import columns and rows of
// people; with dates, each row's External ID is a number in a date
// format.
func Workbook(tb testing.TB, rows int, dates bool) []byte {
	tb.Helper()
	f := excelize.NewFile()
	defer f.Close()
	style := 0
	if dates {
		code := "yyyy-mm-dd"
		s, err := f.NewStyle(&excelize.Style{CustomNumFmt: &code})
		if err != nil {
			tb.Fatal(err)
		}
		style = s
	}
	sw, err := f.NewStreamWriter("Sheet1")
	if err != nil {
		tb.Fatal(err)
	}
	sw.SetRow("A1", []any{"First name", "Last name", "Email", "Department", "Job profile", "Role", "Language", "External ID"})
	for i := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+2)
		var id any = fmt.Sprintf("id%d", i)
		if dates {
			id = excelize.Cell{StyleID: style, Value: 10_000 + i}
		}
		sw.SetRow(cell, []any{"Person", fmt.Sprintf("Number %d", i), fmt.Sprintf("p%d@example.com", i), "Sales", "Driver", "Staff", "en", id})
	}
	if err := sw.Flush(); err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := f.WriteTo(&buf); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// HeapPeak samples the live heap, after a collection, and keeps the most:
// what tests of streaming hold to.
type HeapPeak struct{ base, peak uint64 }

func (h *HeapPeak) Sample() {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	if h.base == 0 {
		h.base = m.HeapInuse
	}
	h.peak = max(h.peak, m.HeapInuse)
}

// Grew is how far the live heap grew from the first sample, in MB.
func (h *HeapPeak) Grew() float64 { return float64(h.peak-h.base) / (1 << 20) }

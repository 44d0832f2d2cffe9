package imports

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"

	"github.com/xuri/excelize/v2"
)

// BenchmarkReadXLSX times reading a workbook of USHER_BENCH_ROWS rows
// (10,000 by default), no more: its rows as the checks receive them,
// reported as rows per second. "text" has no cell in a date format,
// "dates" has one date in each row.
func BenchmarkReadXLSX(b *testing.B) {
	rows := 10_000
	if n, err := strconv.Atoi(os.Getenv("USHER_BENCH_ROWS")); err == nil {
		rows = n
	}
	for _, dates := range []bool{false, true} {
		name := "text"
		if dates {
			name = "dates"
		}
		b.Run(name, func(b *testing.B) {
			data := benchWorkbook(b, rows, dates)
			b.ResetTimer()
			for b.Loop() {
				n := 0
				err := read(context.Background(), bytesSource(data), DefaultLimits, func(*sheet) (rowFunc, error) {
					return func(int, []string) error { n++; return nil }, nil
				})
				if err != nil || n != rows {
					b.Fatalf("%d rows: %v", n, err)
				}
			}
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}

func benchWorkbook(b *testing.B, rows int, dates bool) []byte {
	f := excelize.NewFile()
	defer f.Close()
	style := 0
	if dates {
		code := "yyyy-mm-dd"
		s, err := f.NewStyle(&excelize.Style{CustomNumFmt: &code})
		if err != nil {
			b.Fatal(err)
		}
		style = s
	}
	sw, err := f.NewStreamWriter("Sheet1")
	if err != nil {
		b.Fatal(err)
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
		b.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := f.WriteTo(&buf); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

package spreadsheet_test

import (
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/usherhq/usher/imports/spreadsheet"
	"github.com/usherhq/usher/imports/spreadsheet/spreadsheettest"
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
			data := spreadsheettest.Workbook(b, rows, dates)
			b.ResetTimer()
			for b.Loop() {
				n := 0
				err := spreadsheet.Read(context.Background(), spreadsheet.Bytes(data), spreadsheet.DefaultLimits, func(string, []string) (spreadsheet.RowFunc, error) {
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

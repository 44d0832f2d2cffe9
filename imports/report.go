package imports

import (
	"bytes"
	"context"
	"encoding/csv"
	"strconv"
	"strings"

	"github.com/xuri/excelize/v2"

	"github.com/usherhq/usher"
)

// reportPrefix starts the headers of the columns a report adds; the reader
// ignores them, so a corrected report can be checked again as it is.
const reportPrefix = "usher: "

var reportHeaders = []string{reportPrefix + "row", reportPrefix + "result", reportPrefix + "problems"}

// CheckFile is the dry run as a file to work in: the rows of data as they
// were read, each with its row number, its result and its problems in
// added columns, as XLSX or CSV (format "xlsx" or "csv").
func (im *Importer) CheckFile(ctx context.Context, actor usher.Actor, t usher.Tenant, data []byte, format string) ([]byte, error) {
	f, _, err := im.check(ctx, actor, t, data, true)
	if err != nil {
		return nil, err
	}
	kept := keptColumns(f.sh)
	line := func(cells []string, extra ...string) []string { return reportLine(kept, cells, extra...) }
	lines := [][]string{line(f.sh.headers, reportHeaders...)}
	for _, r := range f.rows {
		why := make([]string, len(r.res.Problems))
		for i, p := range r.res.Problems {
			why[i] = p.Text
		}
		result := r.res.Result
		if result == ResultCreate {
			result = "to create"
		}
		lines = append(lines, line(r.cells, strconv.Itoa(r.res.Row), result, strings.Join(why, "\n")))
	}
	if format == "csv" {
		return reportCSV(lines)
	}
	return reportXLSX(lines)
}

// reportCSV writes lines as CSV in UTF-8 with a byte order mark, each
// value that a spreadsheet would take for a formula made text.
func reportCSV(lines [][]string) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString("\uFEFF")
	w := csv.NewWriter(&b)
	for _, l := range lines {
		for i, v := range l {
			l[i] = defuse(v)
		}
		if err := w.Write(l); err != nil {
			return nil, err
		}
	}
	w.Flush()
	return b.Bytes(), w.Error()
}

// defuse keeps a value from being a formula when a spreadsheet opens the
// CSV (formula injection): a value starting with = + - @, a tab or a
// carriage return gets a leading apostrophe, which spreadsheets read as
// "text".
func defuse(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

// reportXLSX writes lines streamed, every value a text cell: a workbook
// keeps text and formulas apart, so no value becomes a formula.
func reportXLSX(lines [][]string) ([]byte, error) {
	f := excelize.NewFile()
	defer f.Close()
	sw, err := f.NewStreamWriter("Sheet1")
	if err != nil {
		return nil, err
	}
	for n, l := range lines {
		row := make([]any, len(l))
		for i, v := range l {
			row[i] = excelize.Cell{Value: v}
		}
		cell, _ := excelize.CoordinatesToCellName(1, n+1)
		if err := sw.SetRow(cell, row); err != nil {
			return nil, err
		}
	}
	if err := sw.Flush(); err != nil {
		return nil, err
	}
	if err := f.SetSheetName("Sheet1", peopleSheet); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if _, err := f.WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

package imports

import (
	"context"
	"fmt"
	"strings"

	"github.com/usherhq/usher/imports/spreadsheet"
)

// Limits bound what a file may hold: the spreadsheet reader's.
type Limits = spreadsheet.Limits

// DefaultLimits are the limits of the issue: 50 MB and 1,000,000 rows.
var DefaultLimits = spreadsheet.DefaultLimits

// sheet is a file's columns, from its header.
type sheet struct {
	headers []string  // as written, by position
	cols    []*column // by position; nil where the header is empty
	ignored []bool    // by position: the columns a report adds
	format  string    // "xlsx" or "csv"
}

// read reads src as spreadsheet.Read does, its header checked as usher's
// columns, and calls fn with them for what receives the rows.
func read(ctx context.Context, src spreadsheet.Source, lim Limits, fn func(sh *sheet) (spreadsheet.RowFunc, error)) error {
	return spreadsheet.Read(ctx, src, lim, func(format string, cells []string) (spreadsheet.RowFunc, error) {
		sh, err := header(cells, format)
		if err != nil {
			return nil, err
		}
		return fn(sh)
	})
}

// header reads the columns from the first row: every header must name a
// column, and none twice.
func header(cells []string, format string) (*sheet, error) {
	sh := &sheet{headers: cells, cols: make([]*column, len(cells)), ignored: make([]bool, len(cells)), format: format}
	seen := map[string]int{}
	for i, h := range cells {
		if h == "" {
			continue
		}
		if strings.HasPrefix(h, reportPrefix) {
			// A report's own columns: its rows, corrected, come back as they are.
			sh.ignored[i] = true
			continue
		}
		c, ok := headers[foldHeader(h)]
		if !ok {
			return nil, spreadsheet.Refuse("row 1, column %s: %q is not a column usher knows; the template's columns are %s", spreadsheet.ColumnName(i), h, knownColumns())
		}
		if j, ok := seen[c.key]; ok {
			return nil, spreadsheet.Refuse("row 1: columns %s (%q) and %s (%q) are the same column", spreadsheet.ColumnName(j), cells[j], spreadsheet.ColumnName(i), h)
		}
		seen[c.key] = i
		sh.cols[i] = c
	}
	return sh, nil
}

func knownColumns() string {
	names := make([]string, len(columns))
	for i, c := range columns {
		names[i] = fmt.Sprintf("%q", c.labels[0])
	}
	return strings.Join(names, ", ")
}

package imports

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/store"
)

func problemsJSON(ps []Problem) string {
	if len(ps) == 0 {
		return ""
	}
	b, _ := json.Marshal(ps)
	return string(b)
}

// Report is import id's report: its counts and every row of its file with
// its result. Rows without one are "not imported": the import was
// cancelled or failed before them, or is still running.
func (im *Importer) Report(ctx context.Context, actor usher.Actor, t usher.Tenant, id string) (Report, error) {
	if err := actor.Require(usher.AdminUser); err != nil {
		return Report{}, err
	}
	rec, err := im.st.Read().Import(ctx, t.ID, id)
	if err != nil {
		return Report{}, err
	}
	rep := Report{ID: rec.ID, Format: rec.Format, Rows: rec.TotalRows, Created: rec.Created, Skipped: rec.Skipped, Refused: rec.Refused,
		Columns: []string{}, Seats: []PlanSeats{}, Results: []RowResult{}}
	err = im.walkJob(ctx, rec, func(sh *sheet) {
		for i, h := range sh.headers {
			if sh.cols[i] != nil {
				rep.Columns = append(rep.Columns, h)
			}
		}
	}, func(_ []string, res RowResult) error {
		rep.Results = append(rep.Results, res)
		return nil
	})
	return rep, err
}

// ReportFile is import id's report as a file, XLSX or CSV (format "xlsx"
// or "csv"): the rows of its file as they were read, each with its row
// number, its result, why, and the account created, in added columns.
func (im *Importer) ReportFile(ctx context.Context, actor usher.Actor, t usher.Tenant, id, format string) ([]byte, error) {
	if err := actor.Require(usher.AdminUser); err != nil {
		return nil, err
	}
	rec, err := im.st.Read().Import(ctx, t.ID, id)
	if err != nil {
		return nil, err
	}
	var lines [][]string
	var kept []int
	err = im.walkJob(ctx, rec, func(sh *sheet) {
		kept = keptColumns(sh)
		lines = append(lines, reportLine(kept, sh.headers, slices.Concat(reportHeaders, []string{reportPrefix + "account id"})...))
	}, func(cells []string, res RowResult) error {
		why := make([]string, len(res.Problems))
		for i, p := range res.Problems {
			why[i] = p.Text
		}
		lines = append(lines, reportLine(kept, cells, strconv.Itoa(res.Row), res.Result, strings.Join(why, "\n"), res.AccountID))
		return nil
	})
	if err != nil {
		return nil, err
	}
	if format == "csv" {
		return reportCSV(lines)
	}
	return reportXLSX(lines)
}

// walkJob reads the file of rec and calls fn for each row with its cells
// (which the reader reuses) and its result.
func (im *Importer) walkJob(ctx context.Context, rec store.ImportRecord, header func(sh *sheet), fn func(cells []string, res RowResult) error) error {
	var results []store.ImportRowRecord
	r := im.st.Read()
	err := r.ImportRows(ctx, rec.ID, func(x store.ImportRowRecord) error { results = append(results, x); return nil })
	if err != nil {
		return err
	}
	data, err := r.ImportFile(ctx, rec.TenantID, rec.ID)
	if err != nil {
		return err
	}
	why := "not yet imported"
	switch rec.State {
	case store.ImportCancelled:
		why = "cancelled"
	case store.ImportFailed:
		why = "the import failed: " + rec.Error
	}
	return read(data, Limits{}, func(sh *sheet) (rowFunc, error) {
		header(sh)
		return func(num int, cells []string) error {
			for len(results) > 0 && results[0].Row < num {
				results = results[1:]
			}
			res := RowResult{Row: num, Result: ResultNotImported,
				Problems: []Problem{{Message: why, Text: fmt.Sprintf("row %d: not imported: %s", num, why)}}}
			if len(results) > 0 && results[0].Row == num {
				x := results[0]
				res = RowResult{Row: num, Result: x.Result, AccountID: x.AccountID, PersonID: x.PersonID}
				if x.Problems != "" {
					if err := json.Unmarshal([]byte(x.Problems), &res.Problems); err != nil {
						return fmt.Errorf("import %s, row %d: its problems: %w", rec.ID, num, err)
					}
				}
			}
			return fn(cells, res)
		}, nil
	})
}

// keptColumns are the positions of a file's own columns, without an
// earlier report's.
func keptColumns(sh *sheet) []int {
	var kept []int
	for i := range sh.headers {
		if !sh.ignored[i] {
			kept = append(kept, i)
		}
	}
	return kept
}

// reportLine is the cells at kept, then extra.
func reportLine(kept []int, cells []string, extra ...string) []string {
	out := make([]string, 0, len(kept)+len(extra))
	for _, i := range kept {
		v := ""
		if i < len(cells) {
			v = cells[i]
		}
		out = append(out, v)
	}
	return append(out, extra...)
}

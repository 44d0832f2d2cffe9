package imports

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/imports/spreadsheet"
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
	rep := Report{Columns: []string{}, Seats: []PlanSeats{}, Results: []RowResult{}}
	rec, err := im.walkJob(ctx, actor, t, id, func(sh *sheet) error {
		for i, h := range sh.headers {
			if sh.cols[i] != nil {
				rep.Columns = append(rep.Columns, h)
			}
		}
		return nil
	}, func(_ []string, res RowResult) error {
		rep.Results = append(rep.Results, res)
		return nil
	})
	rep.ID, rep.Format, rep.Rows, rep.Created, rep.Skipped, rep.Refused = rec.ID, rec.Format, rec.TotalRows, rec.Created, rec.Skipped, rec.Refused
	return rep, err
}

// NotCreated is import id's rows that were not created, up to limit of
// them, and how many more there are.
func (im *Importer) NotCreated(ctx context.Context, actor usher.Actor, t usher.Tenant, id string, limit int) ([]RowResult, int, error) {
	var out []RowResult
	more := 0
	_, err := im.walkJob(ctx, actor, t, id, func(*sheet) error { return nil }, func(_ []string, res RowResult) error {
		switch {
		case res.Result == ResultCreated:
		case len(out) < limit:
			out = append(out, res)
		default:
			more++
		}
		return nil
	})
	return out, more, err
}

// ReportFile is import id's report as a file, XLSX or CSV (format "xlsx"
// or "csv"): the rows of its file as they were read, each with its row
// number, its result, why, and the account created, in added columns.
func (im *Importer) ReportFile(ctx context.Context, actor usher.Actor, t usher.Tenant, id, format string) ([]byte, error) {
	write, err := im.ReportTo(ctx, actor, t, id, format)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	if err := write(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// ReportTo is ReportFile written to w as it is made, for a report of
// many rows: a CSV is never held whole. The import is looked up first,
// so that a refusal comes before anything is written.
func (im *Importer) ReportTo(ctx context.Context, actor usher.Actor, t usher.Tenant, id, format string) (write func(w io.Writer) error, err error) {
	if err := actor.Require(usher.AdminUser); err != nil {
		return nil, err
	}
	if _, err := im.st.Read().Import(ctx, t.ID, id); err != nil {
		return nil, err
	}
	return func(out io.Writer) error {
		w, err := spreadsheet.NewWriter(out, format, peopleSheet)
		if err != nil {
			return err
		}
		var kept []int
		_, err = im.walkJob(ctx, actor, t, id, func(sh *sheet) error {
			kept = keptColumns(sh)
			return w.Write(reportLine(kept, sh.headers, slices.Concat(reportHeaders, []string{reportPrefix + "account id"})...))
		}, func(cells []string, res RowResult) error {
			why := make([]string, len(res.Problems))
			for i, p := range res.Problems {
				why[i] = p.Text
			}
			return w.Write(reportLine(kept, cells, strconv.Itoa(res.Row), res.Result, strings.Join(why, "\n"), res.AccountID))
		})
		if werr := w.Close(); err == nil {
			err = werr
		}
		return err
	}, nil
}

// walkJob reads the file of import id of t and calls fn for each row with
// its cells (which the reader reuses) and its result. The results come
// from the store as the rows do, so neither is held whole.
func (im *Importer) walkJob(ctx context.Context, actor usher.Actor, t usher.Tenant, id string, header func(sh *sheet) error,
	fn func(cells []string, res RowResult) error) (store.ImportRecord, error) {
	if err := actor.Require(usher.AdminUser); err != nil {
		return store.ImportRecord{}, err
	}
	r := im.st.Read()
	rec, err := r.Import(ctx, t.ID, id)
	if err != nil {
		return rec, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan store.ImportRowRecord, 64)
	failed := make(chan error, 1)
	go func() {
		defer close(results)
		failed <- r.ImportRows(ctx, id, func(x store.ImportRowRecord) error {
			select {
			case results <- x:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	next, more := <-results
	why := notImported(rec)
	if rec.FileDeletedAt != nil {
		// The file is gone (retention): the rows' results are what is
		// left, without the file's cells.
		err = header(&sheet{})
		for ; err == nil && more; next, more = <-results {
			var res RowResult
			if res, err = rowResult(id, next); err == nil {
				err = fn(nil, res)
			}
		}
		cancel()
		for range results {
		}
		if ferr := <-failed; err == nil && ferr != nil && !errors.Is(ferr, context.Canceled) {
			err = ferr
		}
		return rec, err
	}
	err = read(ctx, storedFile{st: im.st, id: id, n: rec.FileSize}, Limits{}, func(sh *sheet) (spreadsheet.RowFunc, error) {
		return func(num int, cells []string) error {
			for more && next.Row < num {
				next, more = <-results
			}
			if !more || next.Row != num {
				return fn(cells, RowResult{Row: num, Result: ResultNotImported,
					Problems: []Problem{{Message: why, Text: fmt.Sprintf("row %d: not imported: %s", num, why)}}})
			}
			res, err := rowResult(id, next)
			if err != nil {
				return err
			}
			return fn(cells, res)
		}, header(sh)
	})
	cancel()
	for range results {
	}
	if ferr := <-failed; err == nil && ferr != nil && !errors.Is(ferr, context.Canceled) {
		err = ferr
	}
	return rec, err
}

// rowResult is a row's result as stored.
func rowResult(id string, x store.ImportRowRecord) (RowResult, error) {
	res := RowResult{Row: x.Row, Result: x.Result, AccountID: x.AccountID, PersonID: x.PersonID}
	if x.Problems != "" {
		if err := json.Unmarshal([]byte(x.Problems), &res.Problems); err != nil {
			return res, fmt.Errorf("import %s, row %d: its problems: %w", id, x.Row, err)
		}
	}
	return res, nil
}

// notImported says why an import's rows without a result have none.
func notImported(rec store.ImportRecord) string {
	switch rec.State {
	case store.ImportCancelled:
		return "cancelled"
	case store.ImportFailed:
		return "the import failed: " + rec.Error
	}
	return "not yet imported"
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

package imports

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/imports/spreadsheet"
)

// reportPrefix starts the headers of the columns a report adds; the reader
// ignores them, so a corrected report can be checked again as it is.
const reportPrefix = "usher: "

var reportHeaders = []string{reportPrefix + "row", reportPrefix + "result", reportPrefix + "problems"}

// CheckFile is the dry run as a file to work in: the rows of data as they
// were read, each with its row number, its result and its problems in
// added columns, as XLSX or CSV (format "xlsx" or "csv").
func (im *Importer) CheckFile(ctx context.Context, actor usher.Actor, t usher.Tenant, data []byte, format string) ([]byte, error) {
	var b bytes.Buffer
	if err := im.checkFile(ctx, actor, t, spreadsheet.Bytes(data), format, &b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// CheckFileFrom is CheckFile of the file that body gives, spooled to a
// temporary file, and its result written to another: neither is held in
// memory (the result of a file of 1,000,000 rows is tens of MB). The
// check is done when it returns, so that a refusal comes before anything
// is sent; send copies the result to w and removes it, and must be called
// once.
func (im *Importer) CheckFileFrom(ctx context.Context, actor usher.Actor, t usher.Tenant, body io.Reader, format string) (send func(w io.Writer) error, err error) {
	if err := actor.Require(usher.AdminUser); err != nil {
		return nil, err
	}
	src, done, err := im.spool(body)
	if err != nil {
		return nil, err
	}
	defer done()
	out, err := os.CreateTemp("", "usher-check-result-*")
	if err != nil {
		return nil, fmt.Errorf("a temporary file for the check's result: %w", err)
	}
	remove := func() { out.Close(); os.Remove(out.Name()) }
	handed := false // to send, which removes it
	defer func() {
		if !handed {
			remove() // an error, or a panic in the check
		}
	}()
	w := bufio.NewWriterSize(out, 64<<10)
	if err = im.checkFile(ctx, actor, t, src, format, w); err == nil {
		err = w.Flush()
	}
	if err == nil {
		_, err = out.Seek(0, io.SeekStart)
	}
	if err != nil {
		return nil, err
	}
	handed = true
	return func(w io.Writer) error {
		defer remove()
		_, err := io.Copy(w, out)
		return err
	}, nil
}

func (im *Importer) checkFile(ctx context.Context, actor usher.Actor, t usher.Tenant, src spreadsheet.Source, format string, out io.Writer) error {
	w, err := spreadsheet.NewWriter(out, format, peopleSheet)
	if err != nil {
		return err
	}
	var kept []int
	started := false
	head := func(sh *sheet) error {
		if started {
			return nil
		}
		started, kept = true, keptColumns(sh)
		return w.Write(reportLine(kept, sh.headers, reportHeaders...))
	}
	sh, _, err := im.check(ctx, actor, t, src, func(sh *sheet, r *row) error {
		if err := head(sh); err != nil {
			return err
		}
		why := make([]string, len(r.res.Problems))
		for i, p := range r.res.Problems {
			why[i] = p.Text
		}
		result := r.res.Result
		if result == ResultCreate {
			result = "to create"
		}
		return w.Write(reportLine(kept, r.cells, strconv.Itoa(r.res.Row), result, strings.Join(why, "\n")))
	})
	if err == nil {
		err = head(sh) // a file of a header alone
	}
	if werr := w.Close(); err == nil {
		err = werr
	}
	return err
}

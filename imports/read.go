package imports

import (
	"archive/zip"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/charmap"

	"github.com/usherhq/usher"
)

// Limits bound what a file may hold; each is a clear refusal.
type Limits struct {
	MaxBytes int64 // the file as uploaded
	MaxRows  int   // rows under the header
}

// DefaultLimits are the limits of the issue: 50 MB and 1,000,000 rows.
var DefaultLimits = Limits{MaxBytes: 50 << 20, MaxRows: 1_000_000}

// With returns l with the non-zero fields of o.
func (l Limits) With(o Limits) Limits {
	if o.MaxBytes > 0 {
		l.MaxBytes = o.MaxBytes
	}
	if o.MaxRows > 0 {
		l.MaxRows = o.MaxRows
	}
	return l
}

// An XLSX is a zip of XML parts. Real workbooks compress 5 to 30 times; a
// zip bomb compresses thousands of times.
const (
	maxEntries        = 10_000
	maxUnzipped int64 = 2 << 30
	maxRatio          = 200
)

// fileError refuses the whole file.
func fileError(format string, args ...any) error {
	return usher.Invalid("file", format, args...)
}

// sheet is a file's columns, from its header, and a way to walk its rows.
type sheet struct {
	headers []string  // as written, by position
	cols    []*column // by position; nil where the header is empty
	ignored []bool    // by position: the columns a report adds
	format  string    // "xlsx" or "csv"
}

// rowFunc receives a row's number (the header is row 1) and its cells,
// trimmed; rows with no value at all are left out.
type rowFunc func(num int, cells []string) error

// read recognizes data as XLSX or CSV, checks its header and calls fn for
// each row that holds a value.
func read(data []byte, lim Limits, fn func(sh *sheet) (rowFunc, error)) error {
	if lim.MaxBytes > 0 && int64(len(data)) > lim.MaxBytes {
		return fileError("the file is %s; the limit is %s", size(int64(len(data))), size(lim.MaxBytes))
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return fileError("the file is empty")
	}
	if bytes.HasPrefix(data, []byte("PK\x03\x04")) {
		return readXLSX(data, lim, fn)
	}
	if bytes.HasPrefix(data, []byte{0xD0, 0xCF, 0x11, 0xE0}) {
		return fileError("this is an old Excel file (.xls): save it as Excel workbook (.xlsx) or CSV")
	}
	return readCSV(data, lim, fn)
}

func size(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d bytes", n)
}

// walker turns raw records into checked rows: the header first, then the
// rows that hold a value, within the row limit.
type walker struct {
	lim    Limits
	format string
	fn     func(sh *sheet) (rowFunc, error)
	row    rowFunc
	sh     *sheet
	rows   int
}

func (w *walker) record(num int, cells []string) error {
	for i, c := range cells {
		cells[i] = strings.TrimSpace(c)
	}
	empty := true
	for _, c := range cells {
		if c != "" {
			empty = false
			break
		}
	}
	if w.sh == nil {
		if empty {
			return fileError("row %d, the header, is empty: the first row names the columns", num)
		}
		sh, err := header(cells, w.format)
		if err != nil {
			return err
		}
		w.sh = sh
		w.row, err = w.fn(sh)
		return err
	}
	if empty {
		return nil // blank rows, at the end or between, are no people
	}
	w.rows++
	if w.lim.MaxRows > 0 && w.rows > w.lim.MaxRows {
		return fileError("the file has more than %d rows; split it into several files", w.lim.MaxRows)
	}
	return w.row(num, cells)
}

// header reads the columns from the first row: every header must name a
// column, and none twice.
func header(cells []string, format string) (*sheet, error) {
	cells = slices.Clone(cells) // the readers reuse their records
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
			return nil, fileError("row 1, column %s: %q is not a column usher knows; the template's columns are %s", colName(i), h, knownColumns())
		}
		if j, ok := seen[c.key]; ok {
			return nil, fileError("row 1: columns %s (%q) and %s (%q) are the same column", colName(j), cells[j], colName(i), h)
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

// colName is a column's letter as spreadsheets show it: 0 is A, 26 is AA.
func colName(i int) string {
	name, _ := excelize.ColumnNumberToName(i + 1)
	return name
}

func readXLSX(data []byte, lim Limits, fn func(sh *sheet) (rowFunc, error)) error {
	if err := checkZip(data); err != nil {
		return err
	}
	f, err := excelize.OpenReader(bytes.NewReader(data), excelize.Options{UnzipSizeLimit: maxUnzipped})
	if err != nil {
		return fileError("the file looks like an Excel workbook but cannot be read: %v", err)
	}
	defer f.Close()
	// The first visible sheet: a hidden one holds lists or old data.
	name := ""
	for _, s := range f.GetSheetList() {
		if v, err := f.GetSheetVisible(s); err == nil && v {
			name = s
			break
		}
	}
	if name == "" {
		return fileError("the workbook has no visible sheet")
	}
	rows, err := f.Rows(name)
	if err != nil {
		return fileError("sheet %q cannot be read: %v", name, err)
	}
	defer rows.Close()
	w := &walker{lim: lim, format: "xlsx", fn: fn}
	num := 0
	for rows.Next() {
		num++
		// Raw values: what was typed, not what a number format shows; a
		// formula gives its cached value and is never evaluated.
		cells, err := rows.Columns(excelize.Options{RawCellValue: true})
		if err != nil {
			return fileError("sheet %q, row %d cannot be read: %v", name, num, err)
		}
		if err := w.record(num, cells); err != nil {
			var e *usher.Error
			if w.sh == nil && errors.As(err, &e) {
				// The header: a workbook may have more sheets than the one read.
				e.Message = fmt.Sprintf("sheet %q, %s", name, e.Message)
			}
			return err
		}
	}
	if err := rows.Error(); err != nil {
		return fileError("sheet %q cannot be read: %v", name, err)
	}
	if w.sh == nil {
		return fileError("sheet %q is empty", name)
	}
	return nil
}

// checkZip refuses a zip bomb, by its entries' count and sizes, and XML
// that declares a document type: entities are how XML reaches for files
// and multiplies itself, and no workbook needs them.
func checkZip(data []byte) error {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return fileError("the file starts like a zip (an Excel workbook) but is not one: %v", err)
	}
	if len(zr.File) > maxEntries {
		return fileError("the workbook has %d parts; a workbook has far fewer (limit %d)", len(zr.File), maxEntries)
	}
	var total uint64
	for _, zf := range zr.File {
		total += zf.UncompressedSize64
	}
	if total > uint64(maxUnzipped) || (total > 10<<20 && total/uint64(len(data)) > maxRatio) {
		return fileError("the workbook unpacks to %s from %s: out of proportion for a spreadsheet (a zip bomb?)", size(int64(min(total, 1<<62))), size(int64(len(data))))
	}
	for _, zf := range zr.File {
		if !strings.HasSuffix(zf.Name, ".xml") && !strings.HasSuffix(zf.Name, ".rels") {
			continue
		}
		rc, err := zf.Open()
		if err != nil {
			return fileError("part %s of the workbook cannot be read: %v", zf.Name, err)
		}
		head := make([]byte, 4096)
		n, _ := io.ReadFull(rc, head)
		rc.Close()
		if bytes.Contains(bytes.ToUpper(head[:n]), []byte("<!DOCTYPE")) || bytes.Contains(bytes.ToUpper(head[:n]), []byte("<!ENTITY")) {
			return fileError("part %s of the workbook declares XML entities, which spreadsheets never do", zf.Name)
		}
	}
	return nil
}

// readCSV reads CSV as spreadsheet programs save it: UTF-8 with or
// without a byte order mark, UTF-16 with one, or Windows-1252; separated
// by the first line's most frequent of ; , and tab.
func readCSV(data []byte, lim Limits, fn func(sh *sheet) (rowFunc, error)) error {
	text, err := decodeText(data)
	if err != nil {
		return err
	}
	r := csv.NewReader(bytes.NewReader(text))
	r.Comma = separator(text)
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	w := &walker{lim: lim, format: "csv", fn: fn}
	// A row's number is as a spreadsheet shows the file: blank lines are
	// rows (encoding/csv skips them), a quoted line break is not a new row.
	extra := 0 // lines that quoted line breaks added before this record
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return fileError("line %d cannot be read: %v", pe.Line, pe.Err)
		} else if err != nil {
			return fileError("the file cannot be read: %v", err)
		}
		line, _ := r.FieldPos(0)
		num := line - extra
		last, _ := r.FieldPos(len(rec) - 1)
		extra += last + strings.Count(rec[len(rec)-1], "\n") - line
		if err := w.record(num, rec); err != nil {
			return err
		}
	}
	if w.sh == nil {
		return fileError("the file is empty")
	}
	return nil
}

// decodeText returns data in UTF-8: data itself when it is, so that a
// large file is not copied.
func decodeText(data []byte) ([]byte, error) {
	switch {
	case bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}):
		data = data[3:]
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}):
		return []byte(utf16Text(data[2:], false)), nil
	case bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		return []byte(utf16Text(data[2:], true)), nil
	}
	if bytes.IndexByte(data, 0) >= 0 {
		return nil, fileError("the file is neither an Excel workbook (.xlsx) nor CSV text")
	}
	if utf8.Valid(data) {
		return data, nil
	}
	// Not UTF-8: what Excel on Windows writes in Western Europe.
	s, err := charmap.Windows1252.NewDecoder().Bytes(data)
	if err != nil {
		return nil, fileError("the file's characters cannot be read: save it as CSV UTF-8")
	}
	return s, nil
}

func utf16Text(b []byte, bigEndian bool) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		if bigEndian {
			u[i] = uint16(b[2*i])<<8 | uint16(b[2*i+1])
		} else {
			u[i] = uint16(b[2*i+1])<<8 | uint16(b[2*i])
		}
	}
	return string(utf16.Decode(u))
}

// separator is the most frequent of ; , and tab in the first line outside
// quotes; a file of one column has none, and comma does. The bytes that
// matter are ASCII, which no other UTF-8 character's bytes are.
func separator(text []byte) rune {
	counts := map[rune]int{}
	quoted := false
	for _, b := range text {
		r := rune(b)
		if r == '"' {
			quoted = !quoted
		}
		if !quoted && (r == '\n' || r == '\r') {
			break
		}
		if !quoted && (r == ';' || r == ',' || r == '\t') {
			counts[r]++
		}
	}
	best := ','
	for _, r := range []rune{';', '\t'} {
		if counts[r] > counts[best] {
			best = r
		}
	}
	return best
}

// Package spreadsheet reads and writes the files of imports: XLSX and CSV
// read a row at a time within limits (zip bombs, XML entities, encodings,
// separators, dates as ISO 8601), and reports written as they go, as XLSX
// or CSV. It knows nothing of usher's columns: a caller checks the header
// and the rows.
package spreadsheet

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"

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

// Refuse refuses the whole file: an invalid "file", with a message that
// names the row and column where there is one.
func Refuse(format string, args ...any) error {
	return usher.Invalid("file", format, args...)
}

// TooLarge refuses a file over the limit, told before its end.
func TooLarge(limit int64) error {
	return Refuse("the file is larger than the limit of %s", size(limit))
}

// RowFunc receives a row's number (the header is row 1) and its cells,
// trimmed; rows with no value at all are left out. The cells are reused
// for the next row.
type RowFunc func(num int, cells []string) error

// HeaderFunc receives the file's format ("xlsx" or "csv") and its first
// row, trimmed and not empty, which it may keep; it returns what receives
// the rows. A *usher.Error it returns for a workbook names the sheet.
type HeaderFunc func(format string, cells []string) (RowFunc, error)

// Read recognizes src as XLSX or CSV, gives its header to header and each
// row that holds a value to the RowFunc header returns. It reads src a
// part at a time, and stops with ctx's error once ctx is done.
func Read(ctx context.Context, src Source, lim Limits, header HeaderFunc) error {
	if n := src.Size(); lim.MaxBytes > 0 && n > lim.MaxBytes {
		return Refuse("the file is %s; the limit is %s", size(n), size(lim.MaxBytes))
	}
	head := make([]byte, 4)
	rc, err := src.Open(ctx)
	if err != nil {
		return err
	}
	n, err := io.ReadFull(rc, head)
	rc.Close()
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("reading the file: %w", err)
	}
	head = head[:n]
	if bytes.HasPrefix(head, []byte("PK\x03\x04")) {
		return readXLSX(ctx, src, lim, header)
	}
	if bytes.HasPrefix(head, []byte{0xD0, 0xCF, 0x11, 0xE0}) {
		return Refuse("this is an old Excel file (.xls): save it as Excel workbook (.xlsx) or CSV")
	}
	return readCSV(ctx, src, lim, header)
}

func size(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d bytes", n)
}

// walker turns raw records into checked rows: the header first, then the
// rows that hold a value, within the row limit, until ctx is done.
type walker struct {
	ctx    context.Context
	lim    Limits
	format string
	header HeaderFunc
	headed bool // the header was taken
	row    RowFunc
	rows   int
}

func (w *walker) record(num int, cells []string) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
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
	if !w.headed {
		if empty {
			return Refuse("row %d, the header, is empty: the first row names the columns", num)
		}
		row, err := w.header(w.format, slices.Clone(cells)) // the readers reuse their records
		if err != nil {
			return err
		}
		w.headed, w.row = true, row
		return nil
	}
	if empty {
		return nil // blank rows, at the end or between, are no people
	}
	w.rows++
	if w.lim.MaxRows > 0 && w.rows > w.lim.MaxRows {
		return Refuse("the file has more than %d rows; split it into several files", w.lim.MaxRows)
	}
	return w.row(num, cells)
}

// ColumnName is a column's letter as spreadsheets show it: 0 is A, 26 is AA.
func ColumnName(i int) string {
	name, _ := excelize.ColumnNumberToName(i + 1)
	return name
}

// xmlInMemory is the largest part of a workbook that is unzipped into
// memory; a larger sheet, or its shared strings, goes to a temporary file
// and is read from there as the rows are.
const xmlInMemory = 1 << 20

func readXLSX(ctx context.Context, src Source, lim Limits, header HeaderFunc) error {
	ra, path, done, err := localFile(ctx, src)
	if err != nil {
		return err
	}
	defer done()
	if err := checkZip(ra, src.Size()); err != nil {
		return err
	}
	opts := excelize.Options{UnzipSizeLimit: maxUnzipped, UnzipXMLSizeLimit: xmlInMemory}
	var f *excelize.File
	if path != "" {
		f, err = excelize.OpenFile(path, opts)
	} else {
		f, err = excelize.OpenReader(io.NewSectionReader(ra, 0, src.Size()), opts)
	}
	if err != nil {
		return Refuse("the file looks like an Excel workbook but cannot be read: %v", err)
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
		return Refuse("the workbook has no visible sheet")
	}
	rows, err := f.Rows(name)
	if err != nil {
		return Refuse("sheet %q cannot be read: %v", name, err)
	}
	defer rows.Close()
	dates, err := newDateCells(f, ra, src.Size(), name)
	if err != nil {
		return err
	}
	defer dates.close()
	w := &walker{ctx: ctx, lim: lim, format: "xlsx", header: header}
	num := 0
	for rows.Next() {
		num++
		// Raw values: what was typed, not what a number format shows; a
		// formula gives its cached value and is never evaluated. Dates
		// excepted, as ISO 8601 (dates.go).
		cells, err := rows.Columns(excelize.Options{RawCellValue: true})
		if err != nil {
			return Refuse("sheet %q, row %d cannot be read: %v", name, num, err)
		}
		dates.apply(num, cells)
		if err := w.record(num, cells); err != nil {
			var e *usher.Error
			if !w.headed && errors.As(err, &e) {
				// The header's refusal: a workbook may have more sheets than the one read.
				e.Message = fmt.Sprintf("sheet %q, %s", name, e.Message)
			}
			return err
		}
	}
	if err := rows.Error(); err != nil {
		return Refuse("sheet %q cannot be read: %v", name, err)
	}
	if !w.headed {
		return Refuse("sheet %q is empty", name)
	}
	return nil
}

// checkZip refuses a zip bomb, by its entries' count and sizes, and XML
// that declares a document type: entities are how XML reaches for files
// and multiplies itself, and no workbook needs them.
func checkZip(ra io.ReaderAt, n int64) error {
	zr, err := zip.NewReader(ra, n)
	if err != nil {
		return Refuse("the file starts like a zip (an Excel workbook) but is not one: %v", err)
	}
	if len(zr.File) > maxEntries {
		return Refuse("the workbook has %d parts; a workbook has far fewer (limit %d)", len(zr.File), maxEntries)
	}
	var total uint64
	for _, zf := range zr.File {
		total += zf.UncompressedSize64
	}
	if total > uint64(maxUnzipped) || (total > 10<<20 && total/uint64(max(n, 1)) > maxRatio) {
		return Refuse("the workbook unpacks to %s from %s: out of proportion for a spreadsheet (a zip bomb?)", size(int64(min(total, 1<<62))), size(n))
	}
	for _, zf := range zr.File {
		if !strings.HasSuffix(zf.Name, ".xml") && !strings.HasSuffix(zf.Name, ".rels") {
			continue
		}
		rc, err := zf.Open()
		if err != nil {
			return Refuse("part %s of the workbook cannot be read: %v", zf.Name, err)
		}
		declares, long := declaresEntities(rc)
		rc.Close()
		if declares {
			return Refuse("part %s of the workbook declares XML entities, which spreadsheets never do", zf.Name)
		}
		if long {
			return Refuse("part %s of the workbook holds over %s before its first element, which spreadsheets never do", zf.Name, size(maxProlog))
		}
	}
	return nil
}

// maxProlog bounds what is read of an XML part before its root element
// (a comment is read whole).
const maxProlog = 1 << 20

// declaresEntities reads an XML part up to its root element and reports
// whether a document type or an entity is declared before it, or whether
// there is more than maxProlog before it. Where the decoder stops on an
// error (text in another encoding, say), what it read is searched for the
// declarations instead; other errors are left to the workbook's reader,
// which names them.
func declaresEntities(r io.Reader) (declares, long bool) {
	lr := &io.LimitedReader{R: r, N: maxProlog}
	var read bytes.Buffer
	d := xml.NewDecoder(io.TeeReader(lr, &read))
	d.CharsetReader = func(_ string, r io.Reader) (io.Reader, error) { return r, nil } // only the markup matters here
	for {
		tok, err := d.RawToken()
		if err != nil {
			upper := bytes.ToUpper(read.Bytes())
			return bytes.Contains(upper, []byte("<!DOCTYPE")) || bytes.Contains(upper, []byte("<!ENTITY")), lr.N == 0
		}
		switch tok.(type) {
		case xml.StartElement:
			return false, false
		case xml.Directive: // <!DOCTYPE …>, <!ENTITY …>, in any case
			return true, false
		}
	}
}

// readCSV reads CSV as spreadsheet programs save it: UTF-8 with or
// without a byte order mark, UTF-16 with one, or Windows-1252; separated
// by the first line's most frequent of ; , and tab. It reads src twice:
// once for its encoding, once for its rows.
func readCSV(ctx context.Context, src Source, lim Limits, header HeaderFunc) error {
	enc, err := encodingOf(ctx, src)
	if err != nil {
		return err
	}
	rc, err := src.Open(ctx)
	if err != nil {
		return err
	}
	defer rc.Close()
	raw := bufio.NewReaderSize(rc, 64<<10)
	var text io.Reader = raw
	switch enc {
	case encUTF8BOM:
		raw.Discard(3)
	case encUTF16LE, encUTF16BE:
		raw.Discard(2)
		order := unicode.LittleEndian
		if enc == encUTF16BE {
			order = unicode.BigEndian
		}
		text = unicode.UTF16(order, unicode.IgnoreBOM).NewDecoder().Reader(raw)
	case encWindows1252:
		// Not UTF-8: what Excel on Windows writes in Western Europe.
		text = charmap.Windows1252.NewDecoder().Reader(raw)
	}
	br := bufio.NewReaderSize(text, 64<<10)
	first, _ := br.Peek(64 << 10) // the first line, or its start
	r := csv.NewReader(br)
	r.Comma = separator(first)
	r.FieldsPerRecord = -1
	r.ReuseRecord = true
	w := &walker{ctx: ctx, lim: lim, format: "csv", header: header}
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
			return Refuse("line %d cannot be read: %v", pe.Line, pe.Err)
		} else if err != nil {
			return fmt.Errorf("reading the file: %w", err) // the source's, not the file's
		}
		line, _ := r.FieldPos(0)
		num := line - extra
		last, _ := r.FieldPos(len(rec) - 1)
		extra += last + strings.Count(rec[len(rec)-1], "\n") - line
		if err := w.record(num, rec); err != nil {
			return err
		}
	}
	if !w.headed {
		return Refuse("the file is empty")
	}
	return nil
}

// Encodings of a CSV file.
const (
	encUTF8 = iota
	encUTF8BOM
	encUTF16LE
	encUTF16BE
	encWindows1252
)

// encodingOf reads src once to tell its encoding: a byte order mark says
// it; otherwise UTF-8 when all of it is, else Windows-1252. It refuses a
// file of white space only, and one with NUL bytes (a binary file).
func encodingOf(ctx context.Context, src Source) (int, error) {
	rc, err := src.Open(ctx)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	buf := make([]byte, 64<<10)
	enc, valid, blank, nul := encUTF8, true, true, false
	carry := 0 // the start of a character cut by the end of a read
	for first := true; ; first = false {
		n, rerr := io.ReadFull(rc, buf[carry:])
		data := buf[:carry+n]
		end := len(data)
		if rerr == nil {
			for i := len(data) - 1; i >= 0 && i >= len(data)-utf8.UTFMax; i-- {
				if utf8.RuneStart(data[i]) {
					if !utf8.FullRune(data[i:]) {
						end = i
					}
					break
				}
			}
		}
		part := data[:end]
		if first {
			switch {
			case bytes.HasPrefix(part, []byte{0xEF, 0xBB, 0xBF}):
				enc, part = encUTF8BOM, part[3:]
			case bytes.HasPrefix(part, []byte{0xFF, 0xFE}):
				return encUTF16LE, nil
			case bytes.HasPrefix(part, []byte{0xFE, 0xFF}):
				return encUTF16BE, nil
			}
		}
		nul = nul || bytes.IndexByte(part, 0) >= 0
		valid = valid && utf8.Valid(part)
		blank = blank && len(bytes.TrimSpace(part)) == 0
		carry = copy(buf, data[end:])
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			break
		} else if rerr != nil {
			return 0, fmt.Errorf("reading the file: %w", rerr)
		}
	}
	switch {
	case blank && enc == encUTF8:
		return 0, Refuse("the file is empty")
	case nul:
		return 0, Refuse("the file is neither an Excel workbook (.xlsx) nor CSV text")
	case !valid:
		return encWindows1252, nil
	}
	return enc, nil
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

package spreadsheet

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"html"
	"io"
	"math"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/xuri/excelize/v2"
)

// Dates in a workbook. A spreadsheet keeps a date as a number of days since
// its epoch and shows it through the cell's number format; the reader takes
// raw values, so a date typed in a cell would read "45352". usher's columns
// hold no dates: such a cell reads as the date the person saw, in ISO 8601:
// "2024-03-01" in a date format, "09:30:00" in a time format,
// "2024-03-01T09:30:00" in a format of both (always with seconds, rounded
// to the second), "36:00:00" in an elapsed time format like [h]:mm:ss.
// Every other cell, a number in a number format included, stays raw.
//
// excelize's row iterator gives no cell's style, so dateCells reads the
// sheet's part a second time, straight from the zip, in step with it, a row
// at a time, for each cell's style and type: the values stay excelize's
// (shared strings, inline strings, formulas' cached values), the memory
// one row's, and excelize still gives the styles' number formats and the
// date system. A reader of our own for the values too would have to read
// shared strings, which excelize keeps in a temporary file when large. The
// second pass runs only when the workbook has a date format at all.

// A dateKind is how a number format shows a number.
type dateKind uint8

const (
	notDate      dateKind = iota
	kindDate              // 2024-03-01
	kindTime              // 09:30:00
	kindDateTime          // 2024-03-01T09:30:00
	kindElapsed           // 36:00:00
	kindByValue           // a locale's date or time: the value says which
)

// builtinKind is the kind of a built-in number format, by its id; 27–36,
// 50–58 and 71–81 are East Asian and Thai dates and times, which differ by
// locale.
func builtinKind(id int) dateKind {
	switch {
	case 14 <= id && id <= 17:
		return kindDate
	case 18 <= id && id <= 21, id == 45, id == 47:
		return kindTime
	case id == 22:
		return kindDateTime
	case id == 46:
		return kindElapsed
	case 27 <= id && id <= 36, 50 <= id && id <= 58, 71 <= id && id <= 81:
		return kindByValue
	}
	return notDate
}

// formatKind is the kind of a custom number format code: its first
// section's date and time codes (y, m, d, h, s, e for an era's year,
// AM/PM), outside quoted text, escaped characters and [...] (a colour, a
// condition, a locale), except elapsed time: [h], [mm], [ss]. An m is
// minutes right after an h or right before an s, else a month.
func formatKind(code string) dateKind {
	var codes []byte // one letter per run: y m d h s
	elapsed, ampm := false, false
	add := func(c byte, i int) {
		if n := len(codes); n > 0 && codes[n-1] == c && i > 0 && lower(code[i-1]) == c {
			return // the same run: yyyy is one code
		}
		codes = append(codes, c)
	}
scan:
	for i := 0; i < len(code); i++ {
		c := lower(code[i])
		switch {
		case c == ';':
			break scan
		case c == '"':
			j := strings.IndexByte(code[i+1:], '"')
			if j < 0 {
				break scan
			}
			i += j + 1
		case c == '\\' || c == '_' || c == '*':
			i++ // a literal, a character's width, a fill
		case c == '[':
			j := strings.IndexByte(code[i:], ']')
			if j < 0 {
				break scan
			}
			in := strings.ToLower(code[i+1 : i+j])
			if in != "" && strings.Trim(in, in[:1]) == "" && strings.Contains("hms", in[:1]) {
				elapsed = true
				codes = append(codes, in[0])
			}
			i += j
		case hasFoldPrefix(code[i:], "general"):
			i += len("general") - 1
		case hasFoldPrefix(code[i:], "am/pm"):
			ampm = true
			i += len("am/pm") - 1
		case hasFoldPrefix(code[i:], "a/p"):
			ampm = true
			i += len("a/p") - 1
		case c == 'e':
			if i+1 < len(code) && (code[i+1] == '+' || code[i+1] == '-') {
				i++ // a number's exponent
				continue
			}
			add('y', i)
		case c == 'y' || c == 'm' || c == 'd' || c == 'h' || c == 's':
			add(c, i)
		}
	}
	date, clock := false, ampm
	for i, c := range codes {
		switch c {
		case 'y', 'd':
			date = true
		case 'h', 's':
			clock = true
		case 'm':
			if (i > 0 && codes[i-1] == 'h') || (i+1 < len(codes) && codes[i+1] == 's') {
				clock = true
			} else {
				date = true
			}
		}
	}
	switch {
	case date && clock:
		return kindDateTime
	case date:
		return kindDate
	case clock && elapsed:
		return kindElapsed
	case clock:
		return kindTime
	}
	return notDate
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func hasFoldPrefix(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// dateText is the text of raw, a number in a format of kind k, as ISO 8601;
// false when raw is no number, or none the format could show as a date
// (negative, beyond the year 9999, the 1900 system's day 0 as a date).
func dateText(raw string, k dateKind, date1904 bool) (string, bool) {
	v, err := strconv.ParseFloat(strings.TrimSpace(raw), 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > 3e6 {
		return "", false
	}
	secs := int64(math.Round(v * 86400))
	days, clock := secs/86400, secs%86400
	if k == kindByValue {
		switch {
		case days == 0:
			k = kindTime
		case clock == 0:
			k = kindDate
		default:
			k = kindDateTime
		}
	}
	switch k {
	case kindTime:
		return hms(clock), true
	case kindElapsed:
		return hms(secs), true
	case kindDate:
		return serialDate(int64(math.Floor(v)), date1904)
	case kindDateTime:
		if days == 0 && !date1904 {
			return hms(clock), true // a time of the 1900 system's day 0: no date
		}
		d, ok := serialDate(days, date1904)
		return d + "T" + hms(clock), ok
	}
	return "", false
}

// hms is a number of seconds as hours, minutes and seconds: 09:30:00.
func hms(secs int64) string {
	return fmt.Sprintf("%02d:%02d:%02d", secs/3600, secs/60%60, secs%60)
}

// serialDate is the date of a day's number: in the 1900 system day 1 is
// 1900-01-01 and day 60 is 1900-02-29, which Excel counts as Lotus 1-2-3
// did; in the 1904 system day 0 is 1904-01-01.
func serialDate(days int64, date1904 bool) (string, bool) {
	var t time.Time
	switch {
	case date1904:
		t = time.Date(1904, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(days))
	case days == 0:
		return "", false // Excel shows 1900-01-00
	case days == 60:
		return "1900-02-29", true
	case days < 60:
		t = time.Date(1899, 12, 31, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(days))
	default:
		t = time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(days))
	}
	if t.Year() > 9999 {
		return "", false
	}
	return t.Format("2006-01-02"), true
}

// dateCells reads which cells of a sheet hold a number in a date format,
// row by row beside excelize's iterator.
type dateCells struct {
	kinds    []dateKind // by style id
	date1904 bool
	rc       io.ReadCloser
	tags     *tags
	num      int        // the row read last
	cells    []dateCell // its cells that hold a number in a date format
	done     bool
}

type dateCell struct {
	col  int // 0 is A
	kind dateKind
}

// newDateCells prepares to read sheet's date cells; nil when the workbook
// has no date format, or its sheet's part cannot be found, and its dates
// read raw as before.
func newDateCells(f *excelize.File, ra io.ReaderAt, size int64, sheet string) (*dateCells, error) {
	var kinds []dateKind
	found := false
	for id := 0; id < excelize.MaxCellStyles; id++ {
		st, err := f.GetStyle(id)
		if err != nil {
			break // past the last style
		}
		k := builtinKind(st.NumFmt)
		if st.CustomNumFmt != nil {
			k = formatKind(*st.CustomNumFmt)
		}
		kinds = append(kinds, k)
		found = found || k != notDate
	}
	if !found {
		return nil, nil
	}
	props, err := f.GetWorkbookProps()
	if err != nil {
		return nil, Refuse("the workbook's properties cannot be read: %v", err)
	}
	zr, err := zip.NewReader(ra, size)
	if err != nil {
		return nil, Refuse("the file starts like a zip (an Excel workbook) but is not one: %v", err)
	}
	part, err := sheetPart(zr, sheet)
	if err != nil || part == nil {
		return nil, nil
	}
	rc, err := part.Open()
	if err != nil {
		return nil, Refuse("sheet %q cannot be read: %v", sheet, err)
	}
	return &dateCells{kinds: kinds, date1904: props.Date1904 != nil && *props.Date1904, rc: rc,
		tags: &tags{in: bufio.NewReaderSize(rc, 64<<10)}}, nil
}

func (d *dateCells) close() {
	if d != nil {
		d.rc.Close()
	}
}

// apply rewrites the date cells of row num, as excelize read it, as ISO
// 8601. Rows come in order; a row the sheet leaves out has no cells. A
// part this reader cannot follow, which excelize could, leaves the rest of
// the sheet's dates raw.
func (d *dateCells) apply(num int, cells []string) {
	if d == nil {
		return
	}
	for !d.done && d.num < num {
		if err := d.next(); err != nil {
			d.done, d.cells = true, nil
		}
	}
	if d.num != num {
		return
	}
	for _, c := range d.cells {
		if c.col < len(cells) {
			if s, ok := dateText(cells[c.col], c.kind, d.date1904); ok {
				cells[c.col] = s
			}
		}
	}
}

// next reads the next row's date cells. A row's number is its r, or the
// one after the row before, as excelize counts.
func (d *dateCells) next() error {
	d.cells = d.cells[:0]
	for {
		kind, err := d.tags.next()
		if errors.Is(err, io.EOF) {
			d.done = true
			return nil
		} else if err != nil {
			return err
		}
		switch {
		case kind != tagEnd && string(d.tags.name) == "row":
			d.num++
			if r, ok := number(d.tags.r); ok && r > 0 {
				d.num = r
			}
			if kind == tagEmpty {
				return nil
			}
			return d.row()
		case kind == tagEnd && string(d.tags.name) == "sheetData":
			d.done = true
			return nil
		}
	}
}

// row reads a row's cells up to its end: a cell's column is its r, or the
// one after the cell before; a number is a cell of type n or of none.
func (d *dateCells) row() error {
	col, depth := -1, 0
	for {
		kind, err := d.tags.next()
		if err != nil {
			return err // io.EOF too: the row is cut
		}
		if kind == tagEnd {
			if depth == 0 {
				return nil // </row>
			}
			depth--
			continue
		}
		if depth == 0 && string(d.tags.name) == "c" {
			col++
			if c, ok := refColumn(d.tags.r); ok {
				col = c
			}
			style, _ := number(d.tags.s)
			typ := d.tags.t
			if style < len(d.kinds) && d.kinds[style] != notDate && (len(typ) == 0 || string(typ) == "n") && col < excelize.MaxColumns {
				d.cells = append(d.cells, dateCell{col: col, kind: d.kinds[style]})
			}
		}
		if kind == tagStart {
			depth++
		}
	}
}

// tags reads the tags of a sheet's XML a buffer at a time, skipping text,
// comments, CDATA sections and processing instructions. Not encoding/xml:
// it makes a token, with its allocations, of every value too, and the
// second pass took a third of the reading of a workbook of dates, not a
// tenth (measured on 10,000 rows).
type tags struct {
	in      *bufio.Reader
	name    []byte // the tag's local name
	r, s, t []byte // the attributes of a row or c start tag, as written
}

type tagKind int

const (
	tagStart tagKind = iota
	tagEnd
	tagEmpty // <c/>
)

// maxTagBytes bounds a name or a value kept: longer ones are read and cut.
const maxTagBytes = 64

// next reads up to the end of the next tag.
func (x *tags) next() (tagKind, error) {
	for {
		for { // text
			_, err := x.in.ReadSlice('<')
			if err == nil {
				break
			} else if !errors.Is(err, bufio.ErrBufferFull) {
				return 0, err
			}
		}
		c, err := x.in.ReadByte()
		if err != nil {
			return 0, unexpected(err)
		}
		switch c {
		case '/':
			c, err := x.readName()
			if err == nil && c != '>' {
				_, err = x.skipTag()
			}
			return tagEnd, err
		case '?':
			err = x.skipPast("?>")
		case '!':
			switch {
			case x.startsWith("--"):
				err = x.skipPast("-->")
			case x.startsWith("[CDATA["):
				err = x.skipPast("]]>")
			default:
				_, err = x.skipTag()
			}
		default:
			x.in.UnreadByte()
			return x.startTag()
		}
		if err != nil {
			return 0, err
		}
	}
}

// startTag reads a start tag's name and, for a row or a cell, its r, s
// and t.
func (x *tags) startTag() (tagKind, error) {
	x.r, x.s, x.t = x.r[:0], x.s[:0], x.t[:0]
	c, err := x.readName()
	if err != nil {
		return 0, err
	}
	if n := string(x.name); n != "row" && n != "c" {
		x.in.UnreadByte()
		empty, err := x.skipTag()
		if empty {
			return tagEmpty, err
		}
		return tagStart, err
	}
	for {
		for isSpace(c) {
			if c, err = x.in.ReadByte(); err != nil {
				return 0, unexpected(err)
			}
		}
		switch c {
		case '>':
			return tagStart, nil
		case '/':
			_, err := x.skipTag()
			return tagEmpty, err
		}
		// An attribute: name = "value" or 'value'.
		var name [2]byte // enough to tell r, s and t from the others
		n := 0
		for c != '=' && !isSpace(c) {
			if c == ':' {
				n = 0 // a prefix
			} else if n < len(name) {
				name[n] = c
			}
			n++
			if c, err = x.in.ReadByte(); err != nil {
				return 0, unexpected(err)
			}
		}
		for c != '"' && c != '\'' {
			if c != '=' && !isSpace(c) {
				return 0, fmt.Errorf("sheet XML: an attribute without a quoted value")
			}
			if c, err = x.in.ReadByte(); err != nil {
				return 0, unexpected(err)
			}
		}
		var val *[]byte
		if n == 1 {
			switch name[0] {
			case 'r':
				val = &x.r
			case 's':
				val = &x.s
			case 't':
				val = &x.t
			}
		}
		for q := c; ; {
			if c, err = x.in.ReadByte(); err != nil {
				return 0, unexpected(err)
			}
			if c == q {
				break
			}
			if val != nil && len(*val) < maxTagBytes {
				*val = append(*val, c)
			}
		}
		if val != nil && bytes.IndexByte(*val, '&') >= 0 {
			*val = append((*val)[:0], html.UnescapeString(string(*val))...)
		}
		if c, err = x.in.ReadByte(); err != nil {
			return 0, unexpected(err)
		}
	}
}

// readName reads a tag's name, keeping its local part, and gives the byte
// after it.
func (x *tags) readName() (byte, error) {
	x.name = x.name[:0]
	for {
		c, err := x.in.ReadByte()
		if err != nil {
			return 0, unexpected(err)
		}
		switch {
		case isSpace(c) || c == '>' || c == '/':
			return c, nil
		case c == ':':
			x.name = x.name[:0]
		case len(x.name) < maxTagBytes:
			x.name = append(x.name, c)
		}
	}
}

// skipTag reads up to a tag's >, past quoted values; empty when it ends
// with />.
func (x *tags) skipTag() (empty bool, err error) {
	var q, last byte
	for {
		c, err := x.in.ReadByte()
		if err != nil {
			return false, unexpected(err)
		}
		switch {
		case q != 0:
			if c == q {
				q = 0
			}
		case c == '"' || c == '\'':
			q = c
		case c == '>':
			return last == '/', nil
		}
		if !isSpace(c) {
			last = c
		}
	}
}

// skipPast reads up to the end of a comment, a CDATA section or a
// processing instruction: end is at most 3 bytes.
func (x *tags) skipPast(end string) error {
	var win [3]byte
	for n := 1; ; n++ {
		c, err := x.in.ReadByte()
		if err != nil {
			return unexpected(err)
		}
		copy(win[:], win[1:])
		win[2] = c
		if n >= len(end) && string(win[3-len(end):]) == end {
			return nil
		}
	}
}

func (x *tags) startsWith(s string) bool {
	b, err := x.in.Peek(len(s))
	if err != nil || string(b) != s {
		return false
	}
	x.in.Discard(len(s))
	return true
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// unexpected is io.ErrUnexpectedEOF for io.EOF: the part ends in a tag.
func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// number is the value of a row's number or a style id: digits, within
// a million.
func number(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' || n > 1_000_000 {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, len(b) > 0
}

// refColumn is the column of a cell reference like AB12, 0 for A.
func refColumn(ref []byte) (int, bool) {
	col, i := 0, 0
	for ; i < len(ref); i++ {
		c := lower(ref[i])
		if c < 'a' || c > 'z' {
			break
		}
		if col = col*26 + int(c-'a'+1); col > excelize.MaxColumns {
			return 0, false
		}
	}
	return col - 1, i > 0
}

// sheetPart is the part of the workbook that holds the cells of the sheet
// by this name, as the package's relationships say: the workbook's part,
// the sheet's relationship in it, and its target. Nil when any is missing.
func sheetPart(zr *zip.Reader, sheet string) (*zip.File, error) {
	find := func(name string) *zip.File {
		for _, zf := range zr.File {
			if strings.EqualFold(strings.TrimPrefix(strings.ReplaceAll(zf.Name, `\`, "/"), "/"), name) {
				return zf
			}
		}
		return nil
	}
	target := func(base string, rels *zip.File, match func(id, typ string) bool) (string, error) {
		if rels == nil {
			return "", nil
		}
		var doc struct {
			Rels []struct {
				ID     string `xml:"Id,attr"`
				Type   string `xml:"Type,attr"`
				Target string `xml:"Target,attr"`
			} `xml:"Relationship"`
		}
		if err := decodePart(rels, &doc); err != nil {
			return "", err
		}
		for _, r := range doc.Rels {
			if match(r.ID, r.Type) {
				if strings.HasPrefix(r.Target, "/") {
					return strings.TrimPrefix(r.Target, "/"), nil
				}
				return path.Join(path.Dir(base), r.Target), nil
			}
		}
		return "", nil
	}
	wb, err := target("", find("_rels/.rels"), func(_, typ string) bool { return strings.HasSuffix(typ, "/officeDocument") })
	if err != nil || wb == "" {
		return nil, err
	}
	wbPart := find(wb)
	if wbPart == nil {
		return nil, nil
	}
	var doc struct {
		Sheets []struct {
			Name string     `xml:"name,attr"`
			Attr []xml.Attr `xml:",any,attr"`
		} `xml:"sheets>sheet"`
	}
	if err := decodePart(wbPart, &doc); err != nil {
		return nil, err
	}
	id := ""
	for _, s := range doc.Sheets {
		if s.Name == sheet {
			for _, a := range s.Attr {
				if a.Name.Local == "id" && a.Name.Space != "" {
					id = a.Value
				}
			}
		}
	}
	if id == "" {
		return nil, nil
	}
	rels := path.Join(path.Dir(wb), "_rels", path.Base(wb)+".rels")
	p, err := target(wb, find(rels), func(rid, _ string) bool { return rid == id })
	if err != nil || p == "" {
		return nil, err
	}
	return find(p), nil
}

// decodePart decodes a small part of the workbook: its relationships or
// its list of sheets, within 16 MB.
func decodePart(zf *zip.File, v any) error {
	rc, err := zf.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	return xml.NewDecoder(io.LimitReader(rc, 16<<20)).Decode(v)
}

package spreadsheet

import (
	"archive/zip"
	"bufio"
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf16"
)

// xlsxSheet writes a workbook of one sheet straight into out,
// a row at a time. excelize builds a whole workbook's zip in memory before
// writing it (about 60 MB for a report of 1,000,000 rows), so reports are
// written here, with the standard library: the parts a workbook needs and
// the sheet's rows as they come. Every value is an inline text cell, so
// no value becomes a formula, whatever it starts with.
type xlsxSheet struct {
	zw  *zip.Writer
	w   *bufio.Writer // the sheet's part
	row int
	ref []byte // scratch for a cell reference
}

const (
	nsMain = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
	nsRels = "http://schemas.openxmlformats.org/package/2006/relationships"
	nsDocR = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
)

// xlsxParts are the parts of a workbook besides its sheet's, with the
// sheet by this name.
func xlsxParts(sheet string) []struct{ name, body string } {
	var name strings.Builder
	xml.EscapeText(&name, []byte(sheet))
	return []struct{ name, body string }{
		{"[Content_Types].xml", xml.Header + `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">` +
			`<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>` +
			`<Default Extension="xml" ContentType="application/xml"/>` +
			`<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>` +
			`<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>` +
			`</Types>`},
		{"_rels/.rels", xml.Header + `<Relationships xmlns="` + nsRels + `">` +
			`<Relationship Id="rId1" Type="` + nsDocR + `/officeDocument" Target="xl/workbook.xml"/></Relationships>`},
		{"xl/workbook.xml", xml.Header + `<workbook xmlns="` + nsMain + `" xmlns:r="` + nsDocR + `">` +
			`<sheets><sheet name="` + name.String() + `" sheetId="1" r:id="rId1"/></sheets></workbook>`},
		{"xl/_rels/workbook.xml.rels", xml.Header + `<Relationships xmlns="` + nsRels + `">` +
			`<Relationship Id="rId1" Type="` + nsDocR + `/worksheet" Target="worksheets/sheet1.xml"/></Relationships>`},
	}
}

func newXLSXSheet(out io.Writer, sheet string) (*xlsxSheet, error) {
	zw := zip.NewWriter(out)
	for _, p := range xlsxParts(sheet) {
		w, err := zw.Create(p.name)
		if err != nil {
			return nil, err
		}
		if _, err := io.WriteString(w, p.body); err != nil {
			return nil, err
		}
	}
	sw, err := zw.Create("xl/worksheets/sheet1.xml")
	if err != nil {
		return nil, err
	}
	s := &xlsxSheet{zw: zw, w: bufio.NewWriterSize(sw, 64<<10)}
	s.w.WriteString(xml.Header + `<worksheet xmlns="` + nsMain + `"><sheetData>`)
	return s, nil
}

func (s *xlsxSheet) Write(l []string) error {
	s.row++
	if s.row > maxSheetRows {
		return fmt.Errorf("a sheet holds at most %d rows", maxSheetRows)
	}
	if len(l) > maxSheetColumns {
		return fmt.Errorf("a sheet holds at most %d columns, not %d", maxSheetColumns, len(l))
	}
	num := strconv.Itoa(s.row)
	s.w.WriteString(`<row r="` + num + `">`)
	for i, v := range l {
		if v == "" {
			continue
		}
		s.ref = append(append(s.ref[:0], ColumnName(i)...), num...)
		s.w.WriteString(`<c r="`)
		s.w.Write(s.ref)
		s.w.WriteString(`" t="inlineStr"><is><t xml:space="preserve">`)
		// EscapeText also replaces what XML cannot hold (control
		// characters, invalid UTF-8) with U+FFFD.
		if err := xml.EscapeText(s.w, []byte(cellText(v))); err != nil {
			return err
		}
		s.w.WriteString(`</t></is></c>`)
	}
	_, err := s.w.WriteString(`</row>`)
	return err
}

func (s *xlsxSheet) Close() error {
	s.w.WriteString(`</sheetData></worksheet>`)
	if err := s.w.Flush(); err != nil {
		return err
	}
	return s.zw.Close()
}

// A worksheet's limits in Excel: rows, columns, and the UTF-16 units of a
// cell's text.
const (
	maxSheetRows    = 1 << 20
	maxSheetColumns = 1 << 14
	maxCellUnits    = 32767
)

// cellText is v as a cell holds it: cut to Excel's length (a longer cell
// makes Excel call the workbook damaged), and with every "_xHHHH_" escaped
// as "_x005F_xHHHH_", since spreadsheets (excelize, which reads imports,
// included) read "_xHHHH_" in a cell's text as the character HHHH.
func cellText(v string) string {
	units := 0
	for i, r := range v {
		if units += utf16.RuneLen(r); units > maxCellUnits {
			v = v[:i]
			break
		}
	}
	if !strings.Contains(v, "_x") {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if isEscapedChar(v[i:]) {
			b.WriteString("_x005F")
		}
		b.WriteByte(v[i])
	}
	return b.String()
}

// isEscapedChar reports whether s starts with "_x", four hexadecimal
// digits and "_".
func isEscapedChar(s string) bool {
	if len(s) < 7 || s[0] != '_' || s[1] != 'x' || s[6] != '_' {
		return false
	}
	for _, c := range s[2:6] {
		if !strings.ContainsRune("0123456789abcdefABCDEF", c) {
			return false
		}
	}
	return true
}

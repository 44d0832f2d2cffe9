package spreadsheet

import (
	"bufio"
	"encoding/csv"
	"io"
	"strings"
)

// A Writer writes a spreadsheet to its output a row at a time, as it
// goes; Close ends the file.
type Writer interface {
	Write(row []string) error
	Close() error
}

// NewWriter writes a spreadsheet to out in format "csv", or else as a
// workbook (XLSX) whose one sheet has this name.
func NewWriter(out io.Writer, format, sheet string) (Writer, error) {
	if format == "csv" {
		w := &csvSheet{b: bufio.NewWriterSize(out, 64<<10)}
		w.b.WriteString("\uFEFF")
		w.w = csv.NewWriter(w.b)
		return w, nil
	}
	return newXLSXSheet(out, sheet)
}

// csvSheet writes CSV in UTF-8 with a byte order mark, each value that a
// spreadsheet would take for a formula made text.
type csvSheet struct {
	b *bufio.Writer
	w *csv.Writer
}

func (s *csvSheet) Write(l []string) error {
	out := make([]string, len(l))
	for i, v := range l {
		out[i] = defuse(v)
	}
	return s.w.Write(out)
}

func (s *csvSheet) Close() error {
	s.w.Flush()
	if err := s.w.Error(); err != nil {
		return err
	}
	return s.b.Flush()
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

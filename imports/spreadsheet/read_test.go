package spreadsheet_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf16"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/charmap"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/imports/spreadsheet"
)

// row is a row as the RowFunc received it: its number and a copy of its
// cells (Read reuses them).
type row struct {
	num   int
	cells []string
}

// sheet is what Read gave: the format and header to the HeaderFunc, the
// rows to the RowFunc it returned.
type sheet struct {
	format string
	header []string
	rows   []row
}

func (s sheet) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %q", s.format, s.header)
	for _, r := range s.rows {
		fmt.Fprintf(&b, "\n%d: %q", r.num, r.cells)
	}
	return b.String()
}

// read reads src with lim. The header is kept as given, not copied: Read
// says the HeaderFunc may keep it.
func read(ctx context.Context, src spreadsheet.Source, lim spreadsheet.Limits) (sheet, error) {
	var s sheet
	err := spreadsheet.Read(ctx, src, lim, func(format string, cells []string) (spreadsheet.RowFunc, error) {
		s.format, s.header = format, cells
		return func(num int, cells []string) error {
			s.rows = append(s.rows, row{num, slices.Clone(cells)})
			return nil
		}, nil
	})
	return s, err
}

func wantSheet(t *testing.T, got sheet, err error, want sheet) {
	t.Helper()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if got.String() != want.String() {
		t.Errorf("read:\n%s\nwant:\n%s", got, want)
	}
}

// wantRefusal: err is the refusal of the file with exactly this message.
func wantRefusal(t *testing.T, err error, msg string) {
	t.Helper()
	var e *usher.Error
	if !errors.As(err, &e) || e.Code != usher.CodeInvalid || e.Field != "file" || e.Message != msg {
		t.Errorf("got %v, want the refusal %q", err, msg)
	}
}

func utf16Of(s string, bigEndian bool) []byte {
	var b []byte
	if bigEndian {
		b = append(b, 0xFE, 0xFF)
	} else {
		b = append(b, 0xFF, 0xFE)
	}
	for _, c := range utf16.Encode([]rune(s)) {
		if bigEndian {
			b = append(b, byte(c>>8), byte(c))
		} else {
			b = append(b, byte(c), byte(c>>8))
		}
	}
	return b
}

func windows1252(t *testing.T, s string) []byte {
	t.Helper()
	b, err := charmap.Windows1252.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestReadCSV: CSV as spreadsheet programs save it, in each encoding and
// with each separator, its cells trimmed and its rows numbered as a
// spreadsheet shows the file.
func TestReadCSV(t *testing.T) {
	// A character of two bytes across the end of encodingOf's first read
	// (64 KiB) is UTF-8 all the same, not Windows-1252.
	long := strings.Repeat("x", 64<<10-len("Name\n")-1) + "ë"
	for _, tc := range []struct {
		name string
		data []byte
		want sheet
	}{
		{"UTF-8, commas", []byte("First name,Email\nAnna,anna@example.com\n"),
			sheet{"csv", []string{"First name", "Email"}, []row{{2, []string{"Anna", "anna@example.com"}}}}},
		{"UTF-8 with a byte order mark", []byte("\uFEFFPrénom,Nom\nZoë,Größe\n"),
			sheet{"csv", []string{"Prénom", "Nom"}, []row{{2, []string{"Zoë", "Größe"}}}}},
		{"UTF-8 without a byte order mark", []byte("Prénom,Nom\nZoë,Größe\n"),
			sheet{"csv", []string{"Prénom", "Nom"}, []row{{2, []string{"Zoë", "Größe"}}}}},
		{"UTF-8 cut by the first read", []byte("Name\n" + long + "\n"),
			sheet{"csv", []string{"Name"}, []row{{2, []string{long}}}}},
		{"UTF-16 LE, Excel's Unicode text", utf16Of("Prénom\tNom\r\nÉlodie\tLefèvre\r\n", false),
			sheet{"csv", []string{"Prénom", "Nom"}, []row{{2, []string{"Élodie", "Lefèvre"}}}}},
		{"UTF-16 BE", utf16Of("Prénom\tNom\r\nÉlodie\t🙂\r\n", true),
			sheet{"csv", []string{"Prénom", "Nom"}, []row{{2, []string{"Élodie", "🙂"}}}}},
		{"Windows-1252", windows1252(t, "Vorname;Straße\r\nJürgen;€ 5\r\n"),
			sheet{"csv", []string{"Vorname", "Straße"}, []row{{2, []string{"Jürgen", "€ 5"}}}}},
		{"semicolons", []byte("a;b;c\n1;2,5;3\n"),
			sheet{"csv", []string{"a", "b", "c"}, []row{{2, []string{"1", "2,5", "3"}}}}},
		{"tabs", []byte("a\tb\tc;d\n1\t2\t3;4\n"),
			sheet{"csv", []string{"a", "b", "c;d"}, []row{{2, []string{"1", "2", "3;4"}}}}},
		{"a tie of semicolons and tabs is semicolons", []byte("a\tb;c\n1\t2;3\n"),
			sheet{"csv", []string{"a\tb", "c"}, []row{{2, []string{"1\t2", "3"}}}}},
		{"commas more frequent than semicolons", []byte("a;b,c,d\n1;2,3,4\n"),
			sheet{"csv", []string{"a;b", "c", "d"}, []row{{2, []string{"1;2", "3", "4"}}}}},
		{"a tie is commas", []byte("a;b,c\n1;2,3\n"),
			sheet{"csv", []string{"a;b", "c"}, []row{{2, []string{"1;2", "3"}}}}},
		{"separators in quotes do not count", []byte("\"Last, First, Middle\";Email\n\"Doe, J\";j@example.com\n"),
			sheet{"csv", []string{"Last, First, Middle", "Email"}, []row{{2, []string{"Doe, J", "j@example.com"}}}}},
		{"a quoted line break in the first line", []byte("\"a\nb\";c\n1;2\n"),
			sheet{"csv", []string{"a\nb", "c"}, []row{{2, []string{"1", "2"}}}}},
		{"one column", []byte("Email\na@example.com\n"),
			sheet{"csv", []string{"Email"}, []row{{2, []string{"a@example.com"}}}}},
		{"quoted line breaks are not rows", []byte("a,b\n\"x\r\ny\",z\nw,\"1\n2\n3\"\nlast,row\n"),
			sheet{"csv", []string{"a", "b"}, []row{{2, []string{"x\ny", "z"}}, {3, []string{"w", "1\n2\n3"}}, {4, []string{"last", "row"}}}}},
		{"blank lines are rows", []byte("a\r\n\r\n\r\nx\r\n\r\ny"),
			sheet{"csv", []string{"a"}, []row{{4, []string{"x"}}, {6, []string{"y"}}}}},
		{"empty rows between and at the end", []byte("a;b\n1;2\n;\n \t; \n3;4\n;\n;\n\n"),
			sheet{"csv", []string{"a", "b"}, []row{{2, []string{"1", "2"}}, {5, []string{"3", "4"}}}}},
		{"cells trimmed", []byte(" a ,\"  b  \"\n  1  ,\t2\t\n"),
			sheet{"csv", []string{"a", "b"}, []row{{2, []string{"1", "2"}}}}},
		{"rows of their own length", []byte("a,b,c\n1\n1,2,3,4\n"),
			sheet{"csv", []string{"a", "b", "c"}, []row{{2, []string{"1"}}, {3, []string{"1", "2", "3", "4"}}}}},
		{"numbers and formulas as written", []byte("Phone;ID;Sum\n4,71235E+10;007;=1+2\n"),
			sheet{"csv", []string{"Phone", "ID", "Sum"}, []row{{2, []string{"4,71235E+10", "007", "=1+2"}}}}},
		{"no line break at the end", []byte("a\nx"),
			sheet{"csv", []string{"a"}, []row{{2, []string{"x"}}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := read(t.Context(), spreadsheet.Bytes(tc.data), spreadsheet.DefaultLimits)
			wantSheet(t, got, err, tc.want)
		})
	}
}

// tooLarge is a source that says it is larger than it is: the size is
// refused before anything is read.
type tooLarge int64

func (tooLarge) Open(context.Context) (io.ReadCloser, error) {
	return nil, errors.New("opened a file the size of which is refused")
}
func (n tooLarge) Size() int64 { return int64(n) }

// TestReadCSVRefusals: each refusal of a file that is not CSV that can
// be read, or not within the limits, in its words.
func TestReadCSVRefusals(t *testing.T) {
	rows := func(n int) []byte { return []byte("Name\n" + strings.Repeat("x\n", n)) }
	for _, tc := range []struct {
		name string
		src  spreadsheet.Source
		lim  spreadsheet.Limits
		msg  string
	}{
		{"nothing", spreadsheet.Bytes{}, spreadsheet.Limits{}, "the file is empty"},
		{"white space", spreadsheet.Bytes(" \r\n\t\n"), spreadsheet.Limits{}, "the file is empty"},
		{"a byte order mark only", spreadsheet.Bytes("\uFEFF"), spreadsheet.Limits{}, "the file is empty"},
		{"UTF-16's byte order mark only", spreadsheet.Bytes{0xFF, 0xFE}, spreadsheet.Limits{}, "the file is empty"},
		{"binary", spreadsheet.Bytes("\x00\x01\x02garbage"), spreadsheet.Limits{}, "the file is neither an Excel workbook (.xlsx) nor CSV text"},
		{"UTF-16 without a byte order mark", spreadsheet.Bytes(utf16Of("Name\r\nx\r\n", false)[2:]), spreadsheet.Limits{},
			"the file is neither an Excel workbook (.xlsx) nor CSV text"},
		{"an old Excel file", spreadsheet.Bytes{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}, spreadsheet.Limits{},
			"this is an old Excel file (.xls): save it as Excel workbook (.xlsx) or CSV"},
		{"an empty header", spreadsheet.Bytes(" ; ;\nx;y;z\n"), spreadsheet.Limits{}, "row 1, the header, is empty: the first row names the columns"},
		{"a bare quote", spreadsheet.Bytes("Name\nx\nsay \"hi\"\n"), spreadsheet.Limits{}, `line 3 cannot be read: bare " in non-quoted-field`},
		// The line where the reader gave up: the file's end.
		{"a quote never closed", spreadsheet.Bytes("Name\nx\n\"open\ny\n"), spreadsheet.Limits{}, `line 4 cannot be read: extraneous or missing " in quoted-field`},
		{"a byte over the limit", spreadsheet.Bytes(bytes.Repeat([]byte("x"), 101)), spreadsheet.Limits{MaxBytes: 100},
			"the file is 101 bytes; the limit is 100 bytes"},
		{"megabytes over the limit", tooLarge(50<<20 + 1), spreadsheet.DefaultLimits, "the file is 50.0 MB; the limit is 50.0 MB"},
		{"a row over the limit", spreadsheet.Bytes(rows(4)), spreadsheet.Limits{MaxRows: 3},
			"the file has more than 3 rows; split it into several files"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := read(t.Context(), tc.src, tc.lim)
			wantRefusal(t, err, tc.msg)
		})
	}
	// At the limits, and with blank rows that are no people, the file is read.
	for _, src := range []spreadsheet.Bytes{rows(3), []byte("Name\nx\n\n,\nx\n\n\nx\n\n")} {
		got, err := read(t.Context(), src, spreadsheet.Limits{MaxBytes: src.Size(), MaxRows: 3})
		if err != nil || len(got.rows) != 3 {
			t.Errorf("%q: %d rows, %v", src, len(got.rows), err)
		}
	}
}

// TestTooLarge: the refusal of a file that grew over the limit as it came.
func TestTooLarge(t *testing.T) {
	wantRefusal(t, spreadsheet.TooLarge(5000), "the file is larger than the limit of 5000 bytes")
	wantRefusal(t, spreadsheet.TooLarge(50<<20), "the file is larger than the limit of 50.0 MB")
	wantRefusal(t, spreadsheet.Refuse("row %d: %s", 7, "bad"), "row 7: bad")
}

func TestLimitsWith(t *testing.T) {
	for _, tc := range []struct{ l, o, want spreadsheet.Limits }{
		{spreadsheet.DefaultLimits, spreadsheet.Limits{}, spreadsheet.DefaultLimits},
		{spreadsheet.DefaultLimits, spreadsheet.Limits{MaxBytes: 100}, spreadsheet.Limits{MaxBytes: 100, MaxRows: 1_000_000}},
		{spreadsheet.DefaultLimits, spreadsheet.Limits{MaxRows: 5}, spreadsheet.Limits{MaxBytes: 50 << 20, MaxRows: 5}},
		{spreadsheet.Limits{MaxBytes: 1, MaxRows: 1}, spreadsheet.Limits{MaxBytes: -1, MaxRows: -1}, spreadsheet.Limits{MaxBytes: 1, MaxRows: 1}},
	} {
		if got := tc.l.With(tc.o); got != tc.want {
			t.Errorf("%+v with %+v: %+v, want %+v", tc.l, tc.o, got, tc.want)
		}
	}
}

func TestColumnName(t *testing.T) {
	for i, want := range map[int]string{0: "A", 1: "B", 25: "Z", 26: "AA", 27: "AB", 701: "ZZ", 702: "AAA", 16383: "XFD"} {
		if got := spreadsheet.ColumnName(i); got != want {
			t.Errorf("column %d: %q, want %q", i, got, want)
		}
	}
}

// TestReadCallbacks: what the header and row functions return stops the
// reading as it is; a workbook's header refusal names its sheet, a row's
// does not; the header, kept, is not overwritten by the rows.
func TestReadCallbacks(t *testing.T) {
	book := workbook(t, func(f *excelize.File) {
		setRow(t, f, "Sheet1", "A1", "Name", "Email")
		setRow(t, f, "Sheet1", "A2", "x", "x@example.com")
		setRow(t, f, "Sheet1", "A3", "y", "y@example.com")
	})
	files := map[string][]byte{"csv": []byte("Name,Email\nx,x@example.com\ny,y@example.com\n"), "xlsx": book}
	for format, data := range files {
		t.Run(format, func(t *testing.T) {
			stop := errors.New("stop")
			err := spreadsheet.Read(t.Context(), spreadsheet.Bytes(data), spreadsheet.Limits{}, func(string, []string) (spreadsheet.RowFunc, error) {
				return nil, stop
			})
			if err != stop {
				t.Errorf("the header's error: %v", err)
			}
			err = spreadsheet.Read(t.Context(), spreadsheet.Bytes(data), spreadsheet.Limits{}, func(string, []string) (spreadsheet.RowFunc, error) {
				return nil, spreadsheet.Refuse("row 1, column B: %q is not a column", "Email")
			})
			want := `row 1, column B: "Email" is not a column`
			if format == "xlsx" {
				want = `sheet "Sheet1", ` + want
			}
			wantRefusal(t, err, want)

			var header []string
			var nums []int
			err = spreadsheet.Read(t.Context(), spreadsheet.Bytes(data), spreadsheet.Limits{}, func(f string, cells []string) (spreadsheet.RowFunc, error) {
				if f != format {
					t.Errorf("format %q", f)
				}
				header = cells
				return func(num int, cells []string) error {
					nums = append(nums, num)
					return spreadsheet.Refuse("row %d is wrong", num)
				}, nil
			})
			wantRefusal(t, err, "row 2 is wrong")
			if !slices.Equal(nums, []int{2}) || !slices.Equal(header, []string{"Name", "Email"}) {
				t.Errorf("rows %v, header %q", nums, header)
			}
		})
	}
}

// TestReadCancelled: a cancelled context stops the reading, before the
// header or between rows, whatever the source.
func TestReadCancelled(t *testing.T) {
	var csvData strings.Builder
	csvData.WriteString("Name\n")
	book := workbook(t, func(f *excelize.File) {
		setRow(t, f, "Sheet1", "A1", "Name")
		for i := 2; i <= 10; i++ {
			setRow(t, f, "Sheet1", fmt.Sprintf("A%d", i), fmt.Sprint(i))
			fmt.Fprintf(&csvData, "%d\n", i)
		}
	})
	for format, data := range map[string][]byte{"csv": []byte(csvData.String()), "xlsx": book} {
		t.Run(format, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			headed := false
			err := spreadsheet.Read(ctx, spreadsheet.Bytes(data), spreadsheet.Limits{}, func(string, []string) (spreadsheet.RowFunc, error) {
				headed = true
				return func(int, []string) error { return nil }, nil
			})
			if !errors.Is(err, context.Canceled) || headed {
				t.Errorf("cancelled before: %v, header read %v", err, headed)
			}

			ctx, cancel = context.WithCancel(t.Context())
			defer cancel()
			var nums []int
			err = spreadsheet.Read(ctx, spreadsheet.Bytes(data), spreadsheet.Limits{}, func(string, []string) (spreadsheet.RowFunc, error) {
				return func(num int, _ []string) error {
					nums = append(nums, num)
					if num == 4 {
						cancel()
					}
					return nil
				}, nil
			})
			if !errors.Is(err, context.Canceled) || !slices.Equal(nums, []int{2, 3, 4}) {
				t.Errorf("cancelled at row 4: %v, rows %v", err, nums)
			}
		})
	}
}

var errBroken = errors.New("the store is unreachable")

// brokenSource reads whole the first good times it is opened, and then
// fails halfway, as a store that goes away would.
type brokenSource struct {
	data  []byte
	good  int
	opens *int
}

func (s brokenSource) Open(context.Context) (io.ReadCloser, error) {
	*s.opens++
	if *s.opens <= s.good {
		return io.NopCloser(bytes.NewReader(s.data)), nil
	}
	return io.NopCloser(io.MultiReader(bytes.NewReader(s.data[:len(s.data)/2]), iotest.ErrReader(errBroken))), nil
}

func (s brokenSource) Size() int64 { return int64(len(s.data)) }

// failingOpen cannot be opened at all.
type failingOpen struct{}

func (failingOpen) Open(context.Context) (io.ReadCloser, error) { return nil, errBroken }
func (failingOpen) Size() int64                                 { return 10 }

// TestReadSourceErrors: a source that cannot be read is an error of its
// own, not a refusal of the file: the person who sent it can do nothing
// about it, and its words are not theirs to see.
func TestReadSourceErrors(t *testing.T) {
	csvData := []byte("Name\n" + strings.Repeat("someone\n", 100))
	book := workbook(t, func(f *excelize.File) {
		setRow(t, f, "Sheet1", "A1", "Name")
		setRow(t, f, "Sheet1", "A2", "someone")
	})
	for _, tc := range []struct {
		name string
		src  spreadsheet.Source
	}{
		{"not opened", failingOpen{}},
		{"csv, telling its encoding", brokenSource{csvData, 1, new(int)}},
		{"csv, reading its rows", brokenSource{csvData, 2, new(int)}},
		{"xlsx, copied to a temporary file", brokenSource{book, 1, new(int)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := read(t.Context(), tc.src, spreadsheet.Limits{})
			var e *usher.Error
			if !errors.Is(err, errBroken) || errors.As(err, &e) {
				t.Errorf("got %v, want the source's error, not a refusal", err)
			}
		})
	}
}

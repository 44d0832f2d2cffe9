package imports

import (
	"context"
	"fmt"
	"io"
	"testing"

	"github.com/usherhq/usher/imports/spreadsheet"
	"github.com/usherhq/usher/imports/spreadsheet/spreadsheettest"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/store/storetest"
)

// generated is a CSV of n rows made as it is read, never held whole.
type generated struct {
	n, row int
	buf    []byte
}

func (g *generated) Read(p []byte) (int, error) {
	for len(g.buf) < len(p) && g.row <= g.n {
		if g.row == 0 {
			g.buf = append(g.buf, "First name;Last name;Email;Language\n"...)
		} else {
			g.buf = fmt.Appendf(g.buf, "First%d;Last%d;person%d@example.com;en\n", g.row, g.row, g.row)
		}
		g.row++
	}
	if len(g.buf) == 0 {
		return 0, io.EOF
	}
	n := copy(p, g.buf)
	g.buf = g.buf[:copy(g.buf, g.buf[n:])]
	return n, nil
}

// TestStreamedMemory: storing a file of 600,000 rows (29 MB) and reading
// it back row by row holds a few chunks at a time, not the file: the live
// heap grows by less than 8 MB (it would grow by the file's size if any
// step held it whole).
func TestStreamedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("stores and reads 29 MB")
	}
	ctx := context.Background()
	st := storetest.OpenSQLite(t, nil)
	im := &Importer{st: st, Limits: DefaultLimits}
	var h spreadsheettest.HeapPeak
	h.Sample()
	gen := &generated{n: 600_000}
	id := store.NewID()
	sampled := io.Reader(readFunc(func(p []byte) (int, error) {
		h.Sample() // a read fills most of a chunk
		return gen.Read(p)
	}))
	n, _, err := im.upload(ctx, id, sampled)
	if err != nil {
		t.Fatal(err)
	}
	if n < 28<<20 {
		t.Fatalf("the file is only %d bytes", n)
	}
	upload := h.Grew()
	rows := 0
	err = read(ctx, storedFile{st: st, id: id, n: n}, im.Limits, func(*sheet) (spreadsheet.RowFunc, error) {
		return func(int, []string) error {
			if rows++; rows%50_000 == 0 {
				h.Sample()
			}
			return nil
		}, nil
	})
	if err != nil || rows != 600_000 {
		t.Fatalf("%d rows read: %v", rows, err)
	}
	t.Logf("a file of %.1f MB: the live heap grew %.1f MB while it was stored, %.1f MB at most while it was read", float64(n)/(1<<20), upload, h.Grew())
	if h.Grew() > 8 {
		t.Errorf("the live heap grew %.1f MB for a file of %.1f MB: the file is held, not streamed", h.Grew(), float64(n)/(1<<20))
	}
}

type readFunc func(p []byte) (int, error)

func (f readFunc) Read(p []byte) (int, error) { return f(p) }

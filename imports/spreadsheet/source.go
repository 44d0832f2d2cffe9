package spreadsheet

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
)

// A Source is a file to read, from its start as often as needed, a part
// at a time: an upload is never held whole in memory.
type Source interface {
	Open(ctx context.Context) (io.ReadCloser, error)
	Size() int64
}

// Bytes is a file in memory, as tests and callers with the bytes at hand
// give it.
type Bytes []byte

func (b Bytes) Open(context.Context) (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (b Bytes) Size() int64 { return int64(len(b)) }

// File is the first N bytes of a file on disk, as a spooled upload is.
type File struct {
	F *os.File
	N int64
}

func (s File) Open(context.Context) (io.ReadCloser, error) {
	return io.NopCloser(io.NewSectionReader(s.F, 0, s.N)), nil
}

func (s File) Size() int64 { return s.N }

// localFile gives src as an io.ReaderAt, and its path when it is a file
// on disk: a zip is read from its end. Any other source (a stored file)
// is copied to a temporary file, which done removes; the source stays
// the file's one true copy.
func localFile(ctx context.Context, src Source) (r io.ReaderAt, path string, done func(), err error) {
	switch s := src.(type) {
	case Bytes:
		return bytes.NewReader(s), "", func() {}, nil
	case File:
		return s.F, s.F.Name(), func() {}, nil
	}
	f, err := os.CreateTemp("", "usher-import-*.xlsx")
	if err != nil {
		return nil, "", nil, fmt.Errorf("a temporary copy of the workbook: %w", err)
	}
	done = func() { f.Close(); os.Remove(f.Name()) }
	rc, err := src.Open(ctx)
	if err == nil {
		_, err = io.Copy(f, rc)
		rc.Close()
	}
	if err != nil {
		done()
		return nil, "", nil, fmt.Errorf("a temporary copy of the workbook: %w", err)
	}
	return f, f.Name(), done, nil
}

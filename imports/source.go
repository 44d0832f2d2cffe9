package imports

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/imports/spreadsheet"
	"github.com/usherhq/usher/store"
)

// chunkSize is how much of a file one row of import_file_chunks holds:
// the most of it that a replica holds at once while storing or reading it.
var chunkSize = 1 << 20

// storedFile is the file of an import as stored in chunks: every replica
// reads the same, so any worker can take a job over.
type storedFile struct {
	st *store.Store
	id string
	n  int64
}

func (s storedFile) Open(ctx context.Context) (io.ReadCloser, error) {
	return &chunkReader{ctx: ctx, f: s}, nil
}

func (s storedFile) Size() int64 { return s.n }

// chunkReader reads a stored file one chunk at a time, in one buffer.
type chunkReader struct {
	ctx  context.Context
	f    storedFile
	seq  int
	buf  []byte
	off  int
	read int64
	eof  bool
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for r.off == len(r.buf) {
		if r.eof {
			return 0, io.EOF
		}
		data, ok, err := r.f.st.Read().ImportChunk(r.ctx, r.f.id, r.seq, r.buf)
		if err != nil {
			return 0, err
		}
		if !ok {
			// A chunk missing (a file deleted while read) must not pass
			// for the end of a shorter file.
			if r.read != r.f.n {
				return 0, fmt.Errorf("the stored file of import %s is incomplete: %d of its %d bytes found", r.f.id, r.read, r.f.n)
			}
			r.eof, r.buf, r.off = true, r.buf[:0], 0
			continue
		}
		r.buf, r.off = data, 0
		r.seq++
		r.read += int64(len(data))
	}
	n := copy(p, r.buf[r.off:])
	r.off += n
	return n, nil
}

func (r *chunkReader) Close() error {
	r.buf = nil
	return nil
}

// upload stores what r gives as the file of import id, a chunk at a
// time, hashing and counting it as it comes. A file over the limit, or an
// upload that breaks off, leaves no chunk behind. A *usher.Error from r
// (the HTTP layer's refusals) is returned as it is.
func (im *Importer) upload(ctx context.Context, id string, r io.Reader) (n int64, sum string, err error) {
	defer func() {
		if err != nil {
			im.dropFile(ctx, id)
		}
	}()
	h := sha256.New()
	buf := make([]byte, chunkSize)
	for seq := 0; ; seq++ {
		got, rerr := io.ReadFull(r, buf)
		if got > 0 {
			n += int64(got)
			if im.Limits.MaxBytes > 0 && n > im.Limits.MaxBytes {
				return n, "", spreadsheet.TooLarge(im.Limits.MaxBytes)
			}
			h.Write(buf[:got])
			err := im.st.Write(ctx, func(tx *store.Tx) error { return tx.InsertImportChunk(ctx, id, seq, buf[:got]) })
			if err != nil {
				return n, "", err
			}
		}
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			break
		}
		if rerr != nil {
			var ue *usher.Error
			if errors.As(rerr, &ue) {
				return n, "", rerr
			}
			return n, "", spreadsheet.Refuse("the upload broke off: %v", rerr)
		}
	}
	return n, hex.EncodeToString(h.Sum(nil)), nil
}

// dropFile deletes the chunks of import id's file, even when ctx ended
// (a client that went away).
func (im *Importer) dropFile(ctx context.Context, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	_ = im.st.Write(ctx, func(tx *store.Tx) error { return tx.DeleteImportFile(ctx, id) })
}

// spool copies what r gives to a temporary file, refusing a file over the
// limit: a dry run reads its file more than once, and holds none of it.
// done closes and removes the file.
func (im *Importer) spool(r io.Reader) (src spreadsheet.File, done func(), err error) {
	f, err := os.CreateTemp("", "usher-check-*")
	if err != nil {
		return spreadsheet.File{}, nil, fmt.Errorf("a temporary file for the upload: %w", err)
	}
	done = func() { f.Close(); os.Remove(f.Name()) }
	limit := im.Limits.MaxBytes
	in := r
	if limit > 0 {
		in = io.LimitReader(r, limit+1)
	}
	n, err := io.Copy(f, in)
	if err != nil {
		done()
		var ue *usher.Error
		if errors.As(err, &ue) {
			return spreadsheet.File{}, nil, err
		}
		return spreadsheet.File{}, nil, spreadsheet.Refuse("the upload broke off: %v", err)
	}
	if limit > 0 && n > limit {
		done()
		return spreadsheet.File{}, nil, spreadsheet.TooLarge(limit)
	}
	return spreadsheet.File{F: f, N: n}, done, nil
}

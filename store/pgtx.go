package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// pgTx is a PostgreSQL write transaction run on the pgx connection under
// database/sql, so that statements can be pipelined: statements queued with
// Tx.execThen go to the server together with the next statement whose
// result is needed, BEGIN included. A new account's seven statements make
// one round trip, and its commit a second, instead of nine.
type pgTx struct {
	c      *pgx.Conn
	begun  bool
	queued []queuedExec
}

type queuedExec struct {
	query string
	args  []any
	check func(n int64, err error) error
}

// Rows is what a query returns: *sql.Rows, or pgx rows on a PostgreSQL write.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Close() error
	Err() error
}

// Row is what a one-row query returns.
type Row interface {
	Scan(dest ...any) error
}

type pgRows struct{ pgx.Rows }

func (r pgRows) Close() error { r.Rows.Close(); return r.Rows.Err() }

type pgResult pgconn.CommandTag

func (r pgResult) RowsAffected() (int64, error) { return pgconn.CommandTag(r).RowsAffected(), nil }
func (r pgResult) LastInsertId() (int64, error) {
	return 0, errors.New("LastInsertId is not supported by PostgreSQL")
}

// send sends the queued statements, and last when not nil, in one round
// trip, then runs the queued checks in order: the first error is the
// outcome, as if the statements had run one by one.
func (p *pgTx) send(ctx context.Context, last *queuedExec) (pgconn.CommandTag, error) {
	b := &pgx.Batch{}
	if !p.begun {
		b.Queue("BEGIN")
	}
	queued := p.queued
	p.queued = nil
	for _, q := range queued {
		b.Queue(q.query, q.args...)
	}
	if last != nil {
		b.Queue(last.query, last.args...)
	}
	br := p.c.SendBatch(ctx, b)
	tags := make([]pgconn.CommandTag, b.Len())
	errs := make([]error, b.Len())
	for i := range tags {
		tags[i], errs[i] = br.Exec()
	}
	closeErr := br.Close()
	i := 0
	if !p.begun {
		if errs[0] != nil {
			return pgconn.CommandTag{}, fmt.Errorf("begin: %w", errs[0])
		}
		p.begun = true
		i++
	}
	for _, q := range queued {
		if err := q.check(tags[i].RowsAffected(), errs[i]); err != nil {
			return pgconn.CommandTag{}, err
		}
		i++
	}
	if last != nil {
		return tags[i], errs[i]
	}
	return pgconn.CommandTag{}, closeErr
}

func (p *pgTx) exec(ctx context.Context, query string, args []any) (pgconn.CommandTag, error) {
	if !p.begun || len(p.queued) > 0 {
		return p.send(ctx, &queuedExec{query: query, args: args})
	}
	return p.c.Exec(ctx, query, args...)
}

// flush sends what is queued, and BEGIN if not yet sent.
func (p *pgTx) flush(ctx context.Context) error {
	if p.begun && len(p.queued) == 0 {
		return nil
	}
	_, err := p.send(ctx, nil)
	return err
}

func (p *pgTx) query(ctx context.Context, query string, args []any) (Rows, error) {
	if err := p.flush(ctx); err != nil {
		return nil, err
	}
	rows, err := p.c.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return pgRows{rows}, nil
}

type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

func (p *pgTx) queryRow(ctx context.Context, query string, args []any) Row {
	if err := p.flush(ctx); err != nil {
		return errRow{err}
	}
	return p.c.QueryRow(ctx, query, args...)
}

// pgWrite runs fn in one transaction on a pgx connection of the pool.
func (s *Store) pgWrite(ctx context.Context, fn func(*Tx) error) error {
	conn, err := s.w.Conn(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer conn.Close()
	return conn.Raw(func(dc any) (err error) {
		p := &pgTx{c: dc.(*stdlib.Conn).Conn()}
		defer func() {
			if r := recover(); r != nil {
				if p.begun {
					_ = p.rollback()
				}
				panic(r)
			}
			if err != nil && p.begun && p.rollback() != nil {
				// Do not give a connection in an unknown state back to the pool.
				err = errors.Join(err, driver.ErrBadConn)
			}
		}()
		if err = fn(&Tx{pg: p, s: s, dialect: s.dialect, now: s.stamp()}); err != nil {
			return err
		}
		if !p.begun && len(p.queued) == 0 {
			return nil // nothing was written
		}
		if err = p.flush(ctx); err != nil {
			return err
		}
		if _, err = p.c.Exec(ctx, "COMMIT"); err != nil {
			p.begun = false // a failed COMMIT ends the transaction
			return fmt.Errorf("commit: %w", err)
		}
		return nil
	})
}

func (p *pgTx) rollback() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := p.c.Exec(ctx, "ROLLBACK")
	return err
}

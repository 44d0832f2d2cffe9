package store

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"strings"
	"time"
)

// where builds a conjunction of conditions. Conditions are written with "?"
// and numbered here, so fragments compose without counting placeholders.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	var b strings.Builder
	i := 0
	for _, r := range cond {
		if r == '?' {
			b.WriteString("$" + strconv.Itoa(len(w.args)+i+1))
			i++
			continue
		}
		b.WriteRune(r)
	}
	w.conds = append(w.conds, b.String())
	w.args = append(w.args, args...)
}

func (w *where) sql() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// next returns the placeholder for one more argument.
func (w *where) next(arg any) string {
	w.args = append(w.args, arg)
	return "$" + strconv.Itoa(len(w.args))
}

// List options shared by every list call.
type ListOptions struct {
	After string // cursor: the id of the last item of the previous page
	Limit int    // 1..500, default 50
	// Newest lists newest first (ids are time-ordered), for logs read from the end.
	Newest bool
}

const maxLimit = 500

func (o ListOptions) limit() int {
	if o.Limit <= 0 {
		return 50
	}
	return min(o.Limit, maxLimit)
}

// page runs a keyset-paged query: base must select from one table with the
// given where clause; items come ordered by id.
func page[T any](ctx context.Context, q querier, base string, w *where, o ListOptions, scan func(scanner) (T, error), id func(T) string) ([]T, string, error) {
	order, cmp := " ORDER BY id LIMIT ", "id > ?"
	if o.Newest {
		order, cmp = " ORDER BY id DESC LIMIT ", "id < ?"
	}
	if o.After != "" {
		w.add(cmp, o.After)
	}
	lim := o.limit()
	query := base + w.sql() + order + w.next(lim+1)
	rows, err := q.QueryContext(ctx, query, w.args...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	// Small at first: a lookup by an identifier finds one row, and a page
	// of 50 accounts made room for 18 kB that most requests never used.
	items := make([]T, 0, min(lim+1, 4))
	for rows.Next() {
		it, err := scan(rows)
		if err != nil {
			return nil, "", err
		}
		items = append(items, it)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	next := ""
	if len(items) > lim {
		items = items[:lim]
		next = id(items[lim-1])
	}
	return items, next, nil
}

type scanner interface{ Scan(dest ...any) error }

func ptrTime(n sql.NullTime) *time.Time {
	if !n.Valid {
		return nil
	}
	t := n.Time.UTC()
	return &t
}

func nullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC()
}

// one maps sql.ErrNoRows to a not-found error naming what.
func notFound(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// forUpdate locks the selected row until the transaction ends on
// PostgreSQL; SQLite's single writer needs no lock. A Tx from Read has no
// transaction to hold a lock for, and its read-only sessions refuse one.
func (t *Tx) forUpdate() string {
	if t.dialect == Postgres && !t.reading() {
		return " FOR UPDATE"
	}
	return ""
}

func splitList(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

// likePrefix makes a case-insensitive prefix pattern for "LIKE ? ESCAPE '\'".
func likePrefix(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(strings.ToLower(s)) + "%"
}

package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
)

// On PostgreSQL a joined insert sends one array a column (INSERT … SELECT
// FROM unnest($1::text[], …)) instead of a parameter a value (VALUES
// ($1, …), …): its text is the same whatever its rows, so it is parsed
// and planned once per connection instead of once per row count, and
// neither side handles thousands of parameters (binding them was half of
// usher's CPU in a PostgreSQL import's batches, and the bind and parse of
// the long texts a tenth of PostgreSQL's).

// arraysAllowed reports whether dsn's statements are described by the
// server before their arguments are encoded, which a column sent as []any
// needs: in the exec and simple protocol modes (default_query_exec_mode,
// as behind a transaction-pooling PgBouncer) pgx would have to guess the
// arrays' types from Go and cannot, so inserts stay VALUES there.
func arraysAllowed(dsn string) bool {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return false
	}
	switch cfg.DefaultQueryExecMode {
	case pgx.QueryExecModeCacheStatement, pgx.QueryExecModeCacheDescribe, pgx.QueryExecModeDescribeExec:
		return true
	}
	return false
}

// columnTypes are the types of the columns of the schema's tables, by
// table and column, as PostgreSQL spells them (format_type), without a
// length (varchar(n)): what a column's array is cast to. An explicit cast
// to the length would cut a longer value where the insert refuses it.
type columnTypes map[string]map[string]string

// loadColumnTypes reads the column types of the tables of the current
// schema. A later migration by another replica may add columns, which this
// replica does not write; a type changed under it would fail the joined
// statement, whose writes then run again alone, as VALUES.
func loadColumnTypes(ctx context.Context, s *Store) (columnTypes, error) {
	rows, err := s.w.QueryContext(ctx, `SELECT c.relname, a.attname, format_type(a.atttypid, NULL)
		FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
		WHERE c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = current_schema())
		AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped`)
	if err != nil {
		return nil, fmt.Errorf("read column types: %w", err)
	}
	defer rows.Close()
	types := columnTypes{}
	for rows.Next() {
		var table, column, typ string
		if err := rows.Scan(&table, &column, &typ); err != nil {
			return nil, fmt.Errorf("read column types: %w", err)
		}
		if types[table] == nil {
			types[table] = map[string]string{}
		}
		types[table][column] = typ
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read column types: %w", err)
	}
	return types, nil
}

// unnestSQL is the joined insert of head ("INSERT INTO t (a, b) VALUES ")
// and tail as INSERT … SELECT of one array per column, or "" when head is
// not of that form or a column's type is unknown.
func (ct columnTypes) unnestSQL(head, tail string) string {
	target, rest, ok := strings.Cut(head, " (")
	if !ok {
		return ""
	}
	f := strings.Fields(target)
	if len(f) != 3 || f[0] != "INSERT" || f[1] != "INTO" {
		return ""
	}
	list, rest, ok := strings.Cut(rest, ")")
	if !ok || strings.TrimSpace(rest) != "VALUES" {
		return ""
	}
	types := ct[f[2]]
	var b strings.Builder
	b.WriteString(target)
	b.WriteString(" (")
	b.WriteString(list)
	b.WriteString(") SELECT * FROM unnest(")
	for i, col := range strings.Split(list, ",") {
		typ, ok := types[strings.TrimSpace(col)]
		if !ok {
			return ""
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(i + 1))
		b.WriteString("::")
		b.WriteString(typ)
		b.WriteString("[]")
	}
	b.WriteByte(')')
	b.WriteString(tail)
	return b.String()
}

// columns turns the joined parts' rows of width values into one slice a
// column: a []string where every value is a string, which pgx encodes
// directly (a []any it encodes value by value, through reflection: a
// fifth of usher's CPU in a PostgreSQL import's writes), else a []any.
func columns(parts [][]any, width int) []any {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	rows := n / width
	out := make([]any, width)
	for c := range width {
		strs := make([]string, 0, rows)
		for _, p := range parts {
			for i := c; i < len(p); i += width {
				s, ok := p[i].(string)
				if !ok {
					strs = nil
					break
				}
				strs = append(strs, s)
			}
			if strs == nil {
				break
			}
		}
		if strs != nil {
			out[c] = strs
			continue
		}
		col := make([]any, 0, rows)
		for _, p := range parts {
			for i := c; i < len(p); i += width {
				col = append(col, p[i])
			}
		}
		out[c] = col
	}
	return out
}

// joiners keeps one joiner per insert, built once: the joiner and its
// statement texts do not change, and an import's batches ask for one per
// row and table in SQLite's single writer.
type joiners struct {
	types columnTypes
	m     sync.Map // joinerKey → *joiner
}

type joinerKey struct{ head, tail string }

// joiner returns the joiner of inserts of head and tail, with rows of
// width values: on PostgreSQL arrays a column when the table's types are
// known, else VALUES (also without j, as in tests that build a Tx by hand).
func (j *joiners) joiner(head, tail string, width int) *joiner {
	if j == nil {
		return insertJoiner(head, tail, width)
	}
	key := joinerKey{head, tail}
	if v, ok := j.m.Load(key); ok {
		return v.(*joiner)
	}
	jn := insertJoiner(head, tail, width)
	if q := j.types.unnestSQL(head, tail); q != "" {
		strictQ := j.types.unnestSQL(head, strings.TrimSuffix(tail, " ON CONFLICT DO NOTHING"))
		jn.build = func(parts [][]any) (string, []any) { return q, columns(parts, width) }
		jn.strict = func(parts [][]any) (string, []any) { return strictQ, columns(parts, width) }
	}
	v, _ := j.m.LoadOrStore(key, jn)
	return v.(*joiner)
}

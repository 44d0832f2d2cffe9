package store

import (
	"context"
	"database/sql"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// A joined SQLite insert binds a column once when every row holds the same
// value, and the rows read back as they were given, whatever repeats.
func TestSQLiteInsertBindsRepeatedColumnsOnce(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file::memory:?_time_format=sqlite")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `CREATE TABLE r (id TEXT, tenant TEXT, n INTEGER, at TIMESTAMP, gone TIMESTAMP, note TEXT, raw BLOB, ok BOOLEAN)`); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 7, 14, 0, 0, 123456789, time.UTC)
	paris := time.FixedZone("Paris", 3600)
	rows := [][]any{
		{"a", "t1", int64(5), now, nil, "", []byte("x"), true},
		{"b", "t1", int64(5), now, nil, "", []byte("x"), true},
		{"c", "t1", int64(5), now.In(paris), nil, nil, []byte("x"), true}, // same instant, other zone; NULL, not ""
		{"d", "t1", int64(5), now, nil, "", []byte("x"), true},
		{"e", "t1", int64(5), now, nil, "", []byte("x"), true},
	}
	// One write may insert several rows (an account's login identifiers):
	// the second part holds two.
	parts := [][]any{rows[0], rows[1], append(slices.Clip(rows[2]), rows[3]...), rows[4]}
	const head = "INSERT INTO r (id, tenant, n, at, gone, note, raw, ok) VALUES "
	query, args := sqliteInsert(head, "", 8, parts)
	// Bound once: tenant, n, gone and ok; each row: id, at, note, raw.
	if want := 8 + 4*4; len(args) != want {
		t.Errorf("%d arguments, want %d: %s", len(args), want, query)
	}
	if want := head + "(?,?,?,?,?,?,?,?)" + strings.Repeat(",(?,?2,?3,?,?5,?,?,?8)", 4); query != want {
		t.Errorf("query\n got %s\nwant %s", query, want)
	}
	if _, err := db.ExecContext(ctx, query, args...); err != nil {
		t.Fatal(err)
	}
	// The same rows inserted one at a time are the reference.
	if _, err := db.ExecContext(ctx, `CREATE TABLE one AS SELECT * FROM r WHERE 0`); err != nil {
		t.Fatal(err)
	}
	for _, row := range rows {
		if _, err := db.ExecContext(ctx, `INSERT INTO one (id, tenant, n, at, gone, note, raw, ok) VALUES (?,?,?,?,?,?,?,?)`, row...); err != nil {
			t.Fatal(err)
		}
	}
	read := func(table string) []string {
		rs, err := db.QueryContext(ctx, `SELECT id, tenant, n, CAST(at AS TEXT), gone IS NULL, quote(note), hex(raw), ok FROM `+table+` ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		defer rs.Close()
		var out []string
		for rs.Next() {
			var id, tenant, at, note, raw string
			var n int64
			var gone, ok bool
			if err := rs.Scan(&id, &tenant, &n, &at, &gone, &note, &raw, &ok); err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprint(id, tenant, n, at, gone, note, raw, ok))
		}
		return out
	}
	got, want := read("r"), read("one")
	if len(got) != len(rows) || !reflect.DeepEqual(got, want) {
		t.Errorf("joined rows\n got %q\nwant %q", got, want)
	}
}

func TestSameArg(t *testing.T) {
	now := time.Now()
	for _, c := range []struct {
		a, b any
		same bool
	}{
		{nil, nil, true}, {"", nil, false}, {nil, "", false}, {"x", "x", true}, {"x", "y", false},
		{int64(1), int64(1), true}, {int64(1), 1, false}, {1, 1, true}, {true, true, true}, {true, false, false},
		{now, now, true}, {now, now.Round(0), true}, {now, now.UTC(), false}, {now, now.Add(1), false},
		{[]byte("a"), []byte("a"), false}, {1.5, 1.5, false},
	} {
		if got := sameArg(c.a, c.b); got != c.same {
			t.Errorf("sameArg(%#v, %#v) = %v, want %v", c.a, c.b, got, c.same)
		}
	}
}

// The prepared joined statements are the most recently used ones.
func TestJoinedStmtsKeepTheRecentlyUsed(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file::memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var c joinedStmts
	text := func(i int) string { return fmt.Sprintf("SELECT %d", i) }
	first := c.stmt(ctx, db, text(0), true)
	for i := 1; i < maxJoinedStmts; i++ {
		c.stmt(ctx, db, text(i), true)
	}
	if c.stmt(ctx, db, text(0), true) != first { // used again: now the newest
		t.Fatal("a kept statement was prepared again")
	}
	c.stmt(ctx, db, text(maxJoinedStmts), true) // one too many: text(1) goes
	if len(c.m) != maxJoinedStmts || c.m[text(0)] == nil || c.m[text(1)] != nil || c.m[text(2)] == nil {
		t.Errorf("kept %d statements; text 0 %v, 1 %v, 2 %v", len(c.m), c.m[text(0)] != nil, c.m[text(1)] != nil, c.m[text(2)] != nil)
	}
	if c.stmt(ctx, db, "not joined", false) != nil {
		t.Error("a statement that is not joined was kept")
	}
}

package store

import (
	"context"
	"fmt"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/usherhq/usher"
)

func TestUnnestSQL(t *testing.T) {
	types := columnTypes{"login_ids": {"tenant_id": "text", "value": "text", "kind": "text", "account_id": "text"},
		"audit_events": {"id": "text", "at": "timestamp with time zone"}}
	got := types.unnestSQL("INSERT INTO login_ids (tenant_id, value, kind, account_id) VALUES ", " ON CONFLICT DO NOTHING")
	want := "INSERT INTO login_ids (tenant_id, value, kind, account_id) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) ON CONFLICT DO NOTHING"
	if got != want {
		t.Errorf("login_ids:\n got %s\nwant %s", got, want)
	}
	if got, want := types.unnestSQL("INSERT INTO audit_events (id, at) VALUES ", ""), "INSERT INTO audit_events (id, at) SELECT * FROM unnest($1::text[], $2::timestamp with time zone[])"; got != want {
		t.Errorf("audit_events:\n got %s\nwant %s", got, want)
	}
	// Unknown tables or columns, and other statements, stay VALUES.
	for _, head := range []string{
		"INSERT INTO messages (id) VALUES ",
		"INSERT INTO audit_events (id, actor) VALUES ",
		"UPDATE audit_events SET id = ",
		"INSERT INTO audit_events (id, at) SELECT ",
	} {
		if got := types.unnestSQL(head, ""); got != "" {
			t.Errorf("%q: %s, want none", head, got)
		}
	}
}

func TestColumns(t *testing.T) {
	parts := [][]any{{"a", 1, nil}, {"b", 2, "x", "c", 3, nil}}
	got := columns(parts, 3)
	// Text only is typed; a column with a NULL or another type is not.
	want := []any{[]string{"a", "b", "c"}, []any{1, 2, 3}, []any{nil, "x", nil}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("columns: %v, want %v", got, want)
	}
}

// On PostgreSQL a group's joined insert goes as one array a column, and
// every value arrives as it was given, NULLs and text with quotes, commas
// and braces included (what an array's text form would need escaped).
func TestJoinedInsertAsArrays(t *testing.T) {
	st, admin, schema := pgOpenVia(t, "")
	bg := context.Background()
	tx := &Tx{s: st, pg: &pgTx{merger: merger{merging: true}}}
	for range 3 {
		tx.pg.last = 0
		if err := tx.InsertAudit(bg, "ten", &usher.AuditEvent{ActorKind: "t", Action: "a", TargetKind: "x", TargetID: "y"}); err != nil {
			t.Fatal(err)
		}
	}
	if query, _ := tx.pg.queued[0].strictStatement(); len(tx.pg.queued) != 1 || !strings.Contains(query, "unnest($1::text[]") {
		t.Fatalf("%d statements queued, the first: %s", len(tx.pg.queued), query)
	}

	odd := []string{`"quoted", {braced}`, `back\slash`, "NULL", ""}
	_, rerunBefore := st.GroupStats()
	var reqs []writeReq
	for _, s := range odd {
		reqs = append(reqs, writeReq{ctx: bg, done: make(chan writeResult, 1), state: new(atomic.Int32), fn: func(tx *Tx) error {
			return tx.InsertAudit(bg, "ten", &usher.AuditEvent{ActorKind: "t", ActorID: s, Action: "a", TargetKind: "x", TargetID: s, Details: map[string]string{"v": s}})
		}})
	}
	st.runGroup(reqs)
	for i, r := range reqs {
		if res := <-r.done; res.err != nil {
			t.Fatalf("write %d: %v", i, res.err)
		}
	}
	if _, rerun := st.GroupStats(); rerun != rerunBefore {
		t.Errorf("the group's writes ran again alone (%d times)", rerun-rerunBefore)
	}
	rows, err := admin.Query("SELECT actor_id, target_id, details, at IS NOT NULL FROM " + schema + ".audit_events WHERE tenant_id = 'ten' ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var actor, target, details string
		var at bool
		if err := rows.Scan(&actor, &target, &details, &at); err != nil {
			t.Fatal(err)
		}
		if actor != target || !at {
			t.Errorf("row %q: target %q, time set %v", actor, target, at)
		}
		got = append(got, actor)
	}
	if !reflect.DeepEqual(got, odd) {
		t.Errorf("stored %q, want %q", got, odd)
	}
}

// Where pgx encodes arguments without the server's description of the
// statement (the exec and simple protocol modes, as behind PgBouncer), it
// cannot send a column as []any: a group's inserts stay VALUES there, and
// go through.
func TestJoinedInsertWithoutDescriptions(t *testing.T) {
	for _, mode := range []string{"exec", "simple_protocol"} {
		t.Run(mode, func(t *testing.T) {
			st, admin, schema := pgOpenWith(t, "", url.Values{"default_query_exec_mode": {mode}})
			if st.join.types != nil {
				t.Fatal("arrays are used")
			}
			bg := context.Background()
			_, rerunBefore := st.GroupStats()
			reqs := []writeReq{auditWrite(bg), auditWrite(bg), auditWrite(bg)}
			st.runGroup(reqs)
			for i, r := range reqs {
				if res := <-r.done; res.err != nil {
					t.Fatalf("write %d: %v", i, res.err)
				}
			}
			var n int
			admin.QueryRow("SELECT count(*) FROM " + schema + ".audit_events").Scan(&n)
			if _, rerun := st.GroupStats(); n != 3 || rerun != rerunBefore {
				t.Errorf("3 writes: %d rows, %d run again alone", n, rerun-rerunBefore)
			}
		})
	}
}

// A lane's group runs generic plans only: left to choose, PostgreSQL plans
// a statement's first five runs afresh, and every run of those whose
// custom plans look cheaper, as the joined seat claim's did. Other writes
// leave the choice to PostgreSQL, whose custom plans some of them need.
func TestGroupsRunGenericPlans(t *testing.T) {
	st, _, _ := pgOpenWith(t, "", nil)
	ctx := context.Background()
	const q = `SELECT count(*) FROM unnest(CAST($1 AS TEXT[])) AS x(v) WHERE v <> ''`
	plans := func(tx *Tx, q string, generic, custom *int) error {
		for i := range 8 {
			var n int
			if err := tx.QueryRowContext(ctx, q, []string{"a", "b", strconv.Itoa(i)}).Scan(&n); err != nil || n != 3 {
				return fmt.Errorf("run %d: %d rows, %v", i, n, err)
			}
		}
		return tx.QueryRowContext(ctx, `SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = $1`, q).Scan(generic, custom)
	}
	var generic, custom int
	req := writeReq{ctx: ctx, done: make(chan writeResult, 1), state: new(atomic.Int32), fn: func(tx *Tx) error {
		return plans(tx, q, &generic, &custom)
	}}
	st.runGroup([]writeReq{req})
	if res := <-req.done; res.err != nil {
		t.Fatal(res.err)
	}
	if custom != 0 || generic != 8 {
		t.Errorf("a group, 8 runs: %d generic plans, %d custom ones", generic, custom)
	}
	// A plain write, with a text of its own (new to whichever connection
	// runs it): PostgreSQL's choice, five custom plans first.
	generic, custom = 0, 0
	err := st.Write(ctx, func(tx *Tx) error { return plans(tx, q+" /* alone */", &generic, &custom) })
	if err != nil {
		t.Fatal(err)
	}
	if custom != 5 || generic != 3 {
		t.Errorf("a write, 8 runs: %d generic plans, %d custom ones", generic, custom)
	}
}

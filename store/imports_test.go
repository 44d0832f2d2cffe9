package store

import (
	"context"
	"reflect"
	"strings"
	"testing"
)

// TestImportRowJoins: on PostgreSQL, the import rows that a group of
// account creations records join into one insert, which goes strict with
// the COMMIT like the creations' other inserts: recording the rows costs a
// group no statement per creation and no round trip. Rows of another
// import, or of another worker, do not join them.
func TestImportRowJoins(t *testing.T) {
	tx := &Tx{pg: &pgTx{merger: merger{merging: true}}}
	for row := range 3 {
		tx.pg.last = 0 // each creation of the group starts here
		if err := tx.RecordImportRow(context.Background(), "imp", "worker", row+2, "acct", "person"); err != nil {
			t.Fatal(err)
		}
	}
	tx.pg.last = 0
	if err := tx.RecordImportRow(context.Background(), "imp", "other worker", 9, "acct", "person"); err != nil {
		t.Fatal(err)
	}
	if len(tx.pg.queued) != 2 || len(tx.pg.queued[0].parts) != 3 || !tx.pg.strict() {
		t.Fatalf("%d statements queued, the first of %d parts; strict: %v", len(tx.pg.queued), len(tx.pg.queued[0].parts), tx.pg.strict())
	}
	q := tx.pg.queued[0]
	query, args := q.strictStatement()
	if !strings.Contains(query, "INSERT INTO import_rows ") || !strings.Contains(query, "unnest(") || !strings.Contains(query, "lease_owner = $5") ||
		!strings.Contains(query, "FOR SHARE") || strings.Contains(query, "ON CONFLICT") || !strings.Contains(query, "SELECT 1 / CAST(count(*)") || len(args) != 5 ||
		!reflect.DeepEqual(args[1], []int32{2, 3, 4}) || args[0] != "imp" || args[4] != "worker" {
		t.Errorf("the joined insert: %s %v", query, args)
	}
	// A row recorded already, or a lost import, refuses its creation.
	if err := q.parts[1].check(0, nil); err == nil || !strings.Contains(err.Error(), "row 3 of import imp has a result already, or the import is no longer this worker's") {
		t.Errorf("a row recorded twice: %v", err)
	}
}

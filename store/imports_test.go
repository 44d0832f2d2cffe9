package store

import (
	"context"
	"strings"
	"testing"
)

// TestImportRowJoins: on PostgreSQL, the import rows that a group of
// account creations records join into one insert, which goes strict with
// the COMMIT like the creations' other inserts: recording the rows costs a
// group no statement per creation and no round trip.
func TestImportRowJoins(t *testing.T) {
	tx := &Tx{pg: &pgTx{merger: merger{merging: true}}}
	for row := range 3 {
		tx.pg.last = 0 // each creation of the group starts here
		if err := tx.RecordImportRow(context.Background(), "imp", row+2, "acct", "person"); err != nil {
			t.Fatal(err)
		}
	}
	if len(tx.pg.queued) != 1 || len(tx.pg.queued[0].parts) != 3 || !tx.pg.strict() {
		t.Fatalf("%d statements queued, the first of %d parts; strict: %v", len(tx.pg.queued), len(tx.pg.queued[0].parts), tx.pg.strict())
	}
	q := tx.pg.queued[0]
	query, args := q.strictStatement()
	if !strings.HasPrefix(query, "INSERT INTO import_rows ") || strings.Count(query, "(") != 4 || strings.Contains(query, "ON CONFLICT") || len(args) != 18 {
		t.Errorf("the joined insert: %s %v", query, args)
	}
	// A row recorded already refuses its creation.
	if err := q.parts[1].check(0, nil); err == nil || !strings.Contains(err.Error(), "row 3 of import imp has a result already") {
		t.Errorf("a row recorded twice: %v", err)
	}
}

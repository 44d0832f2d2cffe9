package store_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/store/storetest"
)

// Optimize gives SQLite's planner statistics of a table that grew.
func TestOptimize(t *testing.T) {
	st := storetest.OpenSQLite(t, nil)
	ctx := context.Background()
	err := st.Write(ctx, func(tx *store.Tx) error {
		for i := range 3000 {
			if _, err := tx.ExecContext(ctx, `INSERT INTO throttles (key, failures, last_failure_at) VALUES ($1, 0, CURRENT_TIMESTAMP)`, fmt.Sprint("k", i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Optimize(ctx); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := st.Write(ctx, func(tx *store.Tx) error {
		return tx.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'throttles'`).Scan(&n)
	}); err != nil {
		t.Fatalf("no statistics: %v", err)
	}
	if n == 0 {
		t.Error("no statistics of a table of 3,000 rows")
	}
}

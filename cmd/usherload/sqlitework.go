package main

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"

	_ "modernc.org/sqlite" // the driver usher's embedded store uses
)

// sqliteWork is the median time, in milliseconds, of a fixed piece of
// the work usher's SQLite writer and readers do, kept in memory so that
// no disk and no system call takes part: rows inserts of random-keyed rows
// into an indexed table in one transaction, then as many lookups by key.
//
// It runs on the same SQLite build and Go runtime as usher: the user-space
// half of a request's cost (B-trees, SQLite's allocator, Go's collector),
// where the SHA-256 loop measures only arithmetic on the CPU's SHA
// instructions. The 4 kB write and the round trip measure the other half,
// the kernel's (BENCHMARKS.md, "Calibration").
func sqliteWork(ctx context.Context, runs, rows int) (float64, error) {
	db, err := sql.Open("sqlite", "file:usherload-calibration?mode=memory")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	// Each connection to a memory database has a database of its own:
	// one connection keeps the table between runs.
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT NOT NULL, v TEXT NOT NULL);
		CREATE UNIQUE INDEX t_k ON t (k)`); err != nil {
		return 0, err
	}
	keys := calibrationKeys(rows)
	return median(runs, func() error { return sqlitePass(ctx, db, keys) })
}

// calibrationKeys returns n distinct keys, the same on every machine, in
// no order an index likes (xorshift).
func calibrationKeys(n int) []string {
	keys := make([]string, n)
	x := uint64(0x9E3779B97F4A7C15)
	for i := range keys {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		keys[i] = strconv.FormatUint(x, 36) + "@calibration.example"
	}
	return keys
}

// sqlitePass empties t, inserts a row per key and finds each again by its
// key, checking what it finds, in one transaction.
func sqlitePass(ctx context.Context, db *sql.DB, keys []string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM t`); err != nil {
		return err
	}
	for i, k := range keys {
		if _, err := tx.ExecContext(ctx, `INSERT INTO t (k, v) VALUES (?, ?)`, k, "person "+strconv.Itoa(i)); err != nil {
			return fmt.Errorf("insert of %s: %w", k, err)
		}
	}
	var v string
	for i, k := range keys {
		if err := tx.QueryRowContext(ctx, `SELECT v FROM t WHERE k = ?`, k).Scan(&v); err != nil {
			return fmt.Errorf("lookup of %s: %w", k, err)
		}
		if v != "person "+strconv.Itoa(i) {
			return fmt.Errorf("lookup of %s found %q", k, v)
		}
	}
	return tx.Commit()
}

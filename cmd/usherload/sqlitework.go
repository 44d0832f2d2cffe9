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
// It runs on the same SQLite build and Go runtime as usher, so it moves
// with what usher's CPU per request moves with (memory latency, caches,
// a vCPU shared with another guest), which the SHA-256 loop, running on
// the CPU's SHA instructions, does not: see BENCHMARKS.md, "Calibration".
func sqliteWork(ctx context.Context, runs, rows int) (float64, error) {
	db, err := sql.Open("sqlite", "file:usherload-calibration?mode=memory")
	if err != nil {
		return 0, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // one in-memory database, on one connection
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT NOT NULL, v TEXT NOT NULL);
		CREATE UNIQUE INDEX t_k ON t (k)`); err != nil {
		return 0, err
	}
	keys := make([]string, rows)
	x := uint64(0x9E3779B97F4A7C15)
	for i := range keys {
		// xorshift: the same keys on every machine, in no order an index likes
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		keys[i] = strconv.FormatUint(x, 36) + "@calibration.example"
	}
	return median(runs, func() error {
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
				return err
			}
		}
		var v string
		for _, k := range keys {
			if err := tx.QueryRowContext(ctx, `SELECT v FROM t WHERE k = ?`, k).Scan(&v); err != nil {
				return fmt.Errorf("lookup of %s: %w", k, err)
			}
		}
		return tx.Commit()
	})
}

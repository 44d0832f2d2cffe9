package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestCalibrate(t *testing.T) {
	dir := t.TempDir()
	c, err := calibrate(context.Background(), calOptions{Dir: dir, HashRuns: 1, LoopRuns: 3, LoopMiB: 2, FsyncRuns: 3, SQLiteRuns: 2, SQLiteRows: 300})
	if err != nil {
		t.Fatal(err)
	}
	if c.HashMS <= 0 || c.LoopMS <= 0 || c.FsyncMS <= 0 || c.SyscallNS <= 0 || c.RoundTripUS <= 0 || c.SQLiteMS <= 0 || c.WriteUS <= 0 {
		t.Errorf("not all positive: %+v", c)
	}
	if _, known := threadCPU(); known && (c.SpeedUS <= 0 || c.SpeedRuns != speedCalRuns) {
		t.Errorf("core probe %v µs, %d runs", c.SpeedUS, c.SpeedRuns)
	}
	if c.HashParams != "m=7168,t=5,p=1" || c.FsyncDir != dir || c.LoopMiB != 2 || c.SQLiteRows != 300 || c.SQLiteRuns != 2 || c.Machine.CPUs < 1 || c.Machine.ToolGo == "" {
		t.Errorf("calibration %+v", c)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("the fsync or write file was left behind: %v", ents)
	}
	var b bytes.Buffer
	c.write(&b)
	wants := []string{"argon2id hash (m=7168,t=5,p=1)", "SHA-256 of 2 MiB", "SQLite in memory (300 rows)", "8 kB write + " + datasyncName, "in " + dir, "4 kB write, no flush", "system call (getppid)", "loopback TCP round trip (64 B)"}
	if _, known := threadCPU(); known {
		wants = append(wants, "core probe (8,192 keys sorted)")
	}
	for _, want := range wants {
		if !strings.Contains(b.String(), want) {
			t.Errorf("no %q in\n%s", want, b.String())
		}
	}
	if _, err := calibrate(context.Background(), calOptions{Dir: dir + "/missing", HashRuns: 1, LoopRuns: 1, LoopMiB: 1, FsyncRuns: 1, SQLiteRuns: 1, SQLiteRows: 10}); err == nil {
		t.Error("a missing fsync folder was accepted")
	}
}

func TestMedian(t *testing.T) {
	if got := medianOf([]time.Duration{3, 1, 2}); got != 2 {
		t.Errorf("median of 3, 1, 2: %v", got)
	}
	if got := medianOf([]time.Duration{40, 10, 30, 20}); got != 25 {
		t.Errorf("median of 40, 10, 30, 20: %v", got)
	}
	calls := 0
	if got, err := median(3, func() error { calls++; return nil }); err != nil || got < 0 || calls != 3 {
		t.Errorf("median: %v, %v after %d calls", got, err, calls)
	}
}

// --mode calibrate needs neither a server nor a token.
func TestRunCalibrate(t *testing.T) {
	defer func(n int) { sqliteRows = n }(sqliteRows)
	sqliteRows = 300
	var out bytes.Buffer
	args := []string{"--mode", "calibrate", "--fsync-dir", t.TempDir(), "--json"}
	if err := run(context.Background(), args, func(string) string { return "" }, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var c calibration
	if err := json.Unmarshal(out.Bytes(), &c); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if c.HashMS <= 0 || c.LoopMS <= 0 || c.FsyncMS <= 0 || c.HashRuns != 5 || c.FsyncRuns != 25 || c.SQLiteMS <= 0 || c.WriteUS <= 0 || c.SQLiteRows != 300 || c.Postgres != nil {
		t.Errorf("calibration %+v", c)
	}
}

func TestPGPerRequest(t *testing.T) {
	a := pgCounters{WALRecords: 100, WALBytes: 1000, WALSync: 10, WALWrite: 12, WALOK: true, SyncOK: true, Commits: 50, AllCommits: 70, NextXID: 1000}
	b := pgCounters{WALRecords: 300, WALBytes: 21000, WALSync: 30, WALWrite: 42, WALFPI: 4, WALOK: true, SyncOK: true, Commits: 90, AllCommits: 115, NextXID: 1060}
	p := b.since(a, 40)
	if p.WALBytes != 500 || p.WALRecords != 5 || p.WALSync != 0.5 || p.WALWrite != 0.75 || p.WALFPI != 0.1 || p.Commits != 1 || p.XIDs != 1.5 || p.OtherCommits != 5 || !p.WALKnown || !p.SyncKnown {
		t.Errorf("per request %+v", p)
	}
	if b.since(a, 0) != nil {
		t.Error("per request of no request")
	}
	b.SyncOK = false // PostgreSQL 18
	if p := b.since(a, 40); !p.WALKnown || p.SyncKnown || p.WALSync != 0 || p.WALBytes != 500 {
		t.Errorf("without wal_sync: %+v", p)
	}
	b.WALOK = false
	if p := b.since(a, 40); p.WALKnown || p.WALBytes != 0 {
		t.Errorf("without pg_stat_wal: %+v", p)
	}
	var w bytes.Buffer
	writePGTable(&w, []result{{Phase: "create", Concurrency: 8, PG: p}, {Phase: "lookup", Concurrency: 8}})
	if !strings.Contains(w.String(), "create") || strings.Contains(w.String(), "lookup") {
		t.Errorf("table:\n%s", w.String())
	}
}

// The counters and settings of a real server: USHER_TEST_POSTGRES_URL.
func TestPGCountersPostgres(t *testing.T) {
	url := os.Getenv("USHER_TEST_POSTGRES_URL")
	if url == "" {
		t.Skip("USHER_TEST_POSTGRES_URL is not set")
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	s, err := readPGSettings(ctx, conn)
	if err != nil || s.Version == "" || s.Fsync == "" || s.SharedBuffers == "" {
		t.Fatalf("settings %+v, %v", s, err)
	}
	pgStatsDelay = 0
	a, err := readPGCounters(ctx, conn)
	if err != nil || a.Commits <= 0 || a.AllCommits < a.Commits || !a.WALOK || a.WALBytes <= 0 || a.NextXID <= 0 {
		t.Fatalf("counters %+v, %v", a, err)
	}
	var b bytes.Buffer
	s.write(&b, os.TempDir())
	if !strings.Contains(b.String(), "synchronous_commit=") {
		t.Errorf("settings:\n%s", b.String())
	}
}

// A pass inserts every key (its lookups check what they find); the next pass starts
// from an empty table; the keys are distinct, and the unique index is
// there to refuse one given twice.
func TestSQLitePass(t *testing.T) {
	ctx := context.Background()
	if ms, err := sqliteWork(ctx, 2, 200); err != nil || ms <= 0 {
		t.Fatalf("sqliteWork: %v ms, %v", ms, err)
	}
	db, err := sql.Open("sqlite", "file:usherload-calibration-test?mode=memory")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT NOT NULL, v TEXT NOT NULL); CREATE UNIQUE INDEX t_k ON t (k)`); err != nil {
		t.Fatal(err)
	}
	keys := calibrationKeys(600)
	if len(slices.Compact(slices.Sorted(slices.Values(keys)))) != len(keys) {
		t.Fatal("the calibration's keys repeat")
	}
	for range 2 {
		if err := sqlitePass(ctx, db, keys); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM t`).Scan(&n); err != nil || n != len(keys) {
			t.Fatalf("%d rows after a pass (%v); want %d", n, err, len(keys))
		}
	}
	if err := sqlitePass(ctx, db, append(keys, keys[7])); err == nil {
		t.Error("a key given twice was inserted twice")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := sqliteWork(cancelled, 1, 10); err == nil {
		t.Error("a cancelled calibration went on")
	}
}

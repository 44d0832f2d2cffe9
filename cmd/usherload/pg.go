package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5"
)

// With --pg-url the load tool also reads the PostgreSQL server usher
// uses: its settings for the calibration, and its WAL and commit counters
// around each creation phase (where the time goes, per creation).

// pgSettings are what decides a commit's cost on the server.
type pgSettings struct {
	Version           string `json:"server_version"`
	Fsync             string `json:"fsync"`
	SynchronousCommit string `json:"synchronous_commit"`
	SharedBuffers     string `json:"shared_buffers"`
	FullPageWrites    string `json:"full_page_writes"`
	WALSyncMethod     string `json:"wal_sync_method"`
	// DataDirectory is empty when the role may not read it.
	DataDirectory string `json:"data_directory,omitempty"`
}

func readPGSettings(ctx context.Context, conn *pgx.Conn) (*pgSettings, error) {
	s := &pgSettings{}
	for _, x := range []struct {
		name string
		to   *string
	}{{"server_version", &s.Version}, {"fsync", &s.Fsync}, {"synchronous_commit", &s.SynchronousCommit},
		{"shared_buffers", &s.SharedBuffers}, {"full_page_writes", &s.FullPageWrites}, {"wal_sync_method", &s.WALSyncMethod}} {
		if err := conn.QueryRow(ctx, "SHOW "+x.name).Scan(x.to); err != nil {
			return nil, fmt.Errorf("SHOW %s: %w", x.name, err)
		}
	}
	// Superusers and pg_read_all_settings only; quietly absent otherwise.
	var dir string
	if conn.QueryRow(ctx, "SELECT setting FROM pg_settings WHERE name = 'data_directory'").Scan(&dir) == nil {
		s.DataDirectory = dir
	}
	return s, nil
}

func (p *pgSettings) write(w io.Writer, fsyncDir string) {
	fmt.Fprintf(w, "  PostgreSQL %s: fsync=%s synchronous_commit=%s shared_buffers=%s full_page_writes=%s wal_sync_method=%s\n",
		p.Version, p.Fsync, p.SynchronousCommit, p.SharedBuffers, p.FullPageWrites, p.WALSyncMethod)
	switch same, known := sameDevice(fsyncDir, p.DataDirectory); {
	case p.DataDirectory == "":
		fmt.Fprintf(w, "  its data directory is not readable: the fsync above is of %s, maybe another disk\n", fsyncDir)
	case !known:
		fmt.Fprintf(w, "  data directory %s (whether on the fsync test's filesystem is unknown)\n", p.DataDirectory)
	case same:
		fmt.Fprintf(w, "  data directory %s, on the fsync test's filesystem\n", p.DataDirectory)
	default:
		fmt.Fprintf(w, "  data directory %s, NOT on the fsync test's filesystem (give --fsync-dir)\n", p.DataDirectory)
	}
}

// pgCounters are cumulative counters of the server: pg_stat_wal's (the
// whole cluster) and the transactions committed in usher's database and
// in all of them.
type pgCounters struct {
	WALRecords, WALFPI, WALBytes, WALWrite, WALSync int64
	WALOK                                           bool // pg_stat_wal exists (PostgreSQL 14 and later)
	SyncOK                                          bool // its wal_write and wal_sync (14 to 17; counted without track_wal_io_timing)
	Commits, AllCommits                             int64
	NextXID                                         int64 // the cluster's: transactions that wrote
}

// pgStatsDelay is how long to wait before reading the counters: a
// PostgreSQL (15) backend publishes its statistics at most once a second
// while it works, and an idle one may keep them up to 10 s
// (PGSTAT_IDLE_INTERVAL) before it does. The next transaction ID is exact
// at once.
var pgStatsDelay = 10500 * time.Millisecond

func readPGCounters(ctx context.Context, conn *pgx.Conn) (pgCounters, error) {
	var c pgCounters
	select {
	case <-ctx.Done():
		return c, ctx.Err()
	case <-time.After(pgStatsDelay):
	}
	err := conn.QueryRow(ctx, `SELECT
		(SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()),
		(SELECT coalesce(sum(xact_commit), 0)::bigint FROM pg_stat_database),
		pg_snapshot_xmax(pg_current_snapshot())::text::bigint`).Scan(&c.Commits, &c.AllCommits, &c.NextXID)
	if err != nil {
		return c, err
	}
	c.WALOK = conn.QueryRow(ctx, `SELECT wal_records, wal_fpi, wal_bytes::bigint FROM pg_stat_wal`).
		Scan(&c.WALRecords, &c.WALFPI, &c.WALBytes) == nil
	// PostgreSQL 18 moved these to pg_stat_io.
	c.SyncOK = c.WALOK && conn.QueryRow(ctx, `SELECT wal_write, wal_sync FROM pg_stat_wal`).Scan(&c.WALWrite, &c.WALSync) == nil
	return c, nil
}

// pgPerRequest is a phase's counters divided by its successful requests.
type pgPerRequest struct {
	WALBytes   float64 `json:"wal_bytes"`
	WALRecords float64 `json:"wal_records"`
	WALFPI     float64 `json:"wal_full_page_images"`
	WALWrite   float64 `json:"wal_writes"`
	WALSync    float64 `json:"wal_syncs"`
	WALKnown   bool    `json:"wal_known"`
	SyncKnown  bool    `json:"wal_syncs_known"`
	Commits    float64 `json:"commits"` // xact_commit of usher's database, read-only transactions too
	// XIDs are the transaction IDs assigned: transactions that wrote, in the whole cluster.
	XIDs float64 `json:"write_transactions"`
	// OtherCommits are the other databases' commits during the phase, in
	// all: when not 0, the WAL figures (the cluster's) include their work.
	OtherCommits int64 `json:"other_databases_commits"`
}

func (c pgCounters) since(a pgCounters, ok int) *pgPerRequest {
	if ok <= 0 {
		return nil
	}
	n := float64(ok)
	p := &pgPerRequest{Commits: float64(c.Commits-a.Commits) / n, XIDs: float64(c.NextXID-a.NextXID) / n,
		OtherCommits: (c.AllCommits - a.AllCommits) - (c.Commits - a.Commits)}
	if c.WALOK && a.WALOK {
		p.WALKnown = true
		p.WALBytes = float64(c.WALBytes-a.WALBytes) / n
		p.WALRecords = float64(c.WALRecords-a.WALRecords) / n
		p.WALFPI = float64(c.WALFPI-a.WALFPI) / n
	}
	if c.SyncOK && a.SyncOK {
		p.SyncKnown = true
		p.WALWrite = float64(c.WALWrite-a.WALWrite) / n
		p.WALSync = float64(c.WALSync-a.WALSync) / n
	}
	return p
}

// writePGTable prints the phases' PostgreSQL counters per request.
func writePGTable(w io.Writer, results []result) {
	writePhaseTable(w, "PostgreSQL per successful request (WAL and write transactions are the whole cluster's; commits are usher's database's, read-only ones included):",
		"WAL bytes\tWAL records\tfull pages\tWAL writes\tWAL syncs\twrite transactions\tcommits\tother DBs' commits", results,
		func(x result) (string, bool) {
			p := x.PG
			if p == nil {
				return "", false
			}
			wal, sync := "-\t-\t-", "-\t-"
			if p.WALKnown {
				wal = fmt.Sprintf("%.0f\t%.1f\t%.3f", p.WALBytes, p.WALRecords, p.WALFPI)
			}
			if p.SyncKnown {
				sync = fmt.Sprintf("%.3f\t%.3f", p.WALWrite, p.WALSync)
			}
			return fmt.Sprintf("%s\t%s\t%.3f\t%.3f\t%d", wal, sync, p.XIDs, p.Commits, p.OtherCommits), true
		})
}

package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/usherhq/usher/password"
)

// calibration is a small measure of the machine, printed beside every
// run's figures so that runs on different machines can be compared: the
// run's figures against these, not only against each other (BENCHMARKS.md,
// "Calibration").
type calibration struct {
	Machine machine `json:"machine"`
	// HashMS is one password.Hash (usher's argon2id parameters, in HashParams).
	HashMS     float64 `json:"argon2id_hash_ms"`
	HashParams string  `json:"argon2id_params"`
	// LoopMS is SHA-256 over LoopMiB MiB: plain CPU speed of one core.
	LoopMS  float64 `json:"sha256_loop_ms"`
	LoopMiB int     `json:"sha256_loop_mib"`
	// FsyncMS is one 8 kB write and its flush (FsyncCall) in a file of FsyncDir.
	FsyncMS   float64 `json:"fsync_8k_ms"`
	FsyncDir  string  `json:"fsync_dir"`
	FsyncCall string  `json:"fsync_call"`
	// SyscallNS is one getppid system call: what entering and leaving the
	// kernel costs. A VM can make it ten times a bare machine's, and every
	// request pays it for each read, write and wakeup.
	SyscallNS float64 `json:"syscall_ns"`
	// RoundTripUS is one 64-byte exchange over a loopback TCP connection
	// between two goroutines: two writes, two reads and two wakeups, the
	// shape of a request to usher or of a query to PostgreSQL.
	RoundTripUS float64 `json:"loopback_round_trip_us"`
	// WriteUS is one 4 kB write into the OS's cache of a file in FsyncDir,
	// with no flush: what SQLite's WAL pays for each page of a commit
	// (beside a 24-byte write of the frame's header), and its checkpoint
	// once more; the kernel's half of a request's cost.
	WriteUS float64 `json:"write_4k_us"`
	// SQLiteMS is SQLiteRows inserts into an indexed in-memory SQLite table
	// and as many lookups (sqliteWork): the user-space half.
	SQLiteMS   float64 `json:"sqlite_memory_ms"`
	SQLiteRows int     `json:"sqlite_memory_rows"`
	// SpeedUS is the core probe's work (speed.go) in its thread's CPU
	// time, on the quiet machine: what the probe reads with no load; each
	// level gives its own. 0 where thread CPU time is not known.
	SpeedUS   float64 `json:"speed_probe_us,omitempty"`
	SpeedRuns int     `json:"speed_probe_runs,omitempty"`
	// Runs of each measure, of which the medians are given.
	HashRuns   int `json:"hash_runs"`
	LoopRuns   int `json:"loop_runs"`
	FsyncRuns  int `json:"fsync_runs"`
	SQLiteRuns int `json:"sqlite_memory_runs"`
	// Postgres is the server's settings, with --pg-url.
	Postgres *pgSettings `json:"postgres,omitempty"`
}

// calOptions are the calibration's sizes; zero values take the defaults.
type calOptions struct {
	Dir        string // for the fsync file; the OS's temporary folder by default
	HashRuns   int
	LoopRuns   int
	LoopMiB    int
	FsyncRuns  int
	SQLiteRuns int
	SQLiteRows int
}

// sqliteRows is the default size of the in-memory SQLite work. A variable
// so that a test of --mode calibrate under the race detector, which makes
// SQLite ten times slower, can take a smaller one.
var sqliteRows = 10000

func (o calOptions) withDefaults() calOptions {
	if o.Dir == "" {
		o.Dir = os.TempDir()
	}
	if o.HashRuns == 0 {
		o.HashRuns = 5
	}
	if o.LoopRuns == 0 {
		o.LoopRuns = 5
	}
	if o.LoopMiB == 0 {
		o.LoopMiB = 64
	}
	if o.FsyncRuns == 0 {
		o.FsyncRuns = 25
	}
	if o.SQLiteRuns == 0 {
		o.SQLiteRuns = 5
	}
	if o.SQLiteRows == 0 {
		o.SQLiteRows = sqliteRows
	}
	return o
}

// calibrate measures the machine; each figure is the median of its runs.
func calibrate(ctx context.Context, o calOptions) (calibration, error) {
	o = o.withDefaults()
	c := calibration{Machine: machineInfo(), LoopMiB: o.LoopMiB, FsyncDir: o.Dir, FsyncCall: datasyncName,
		HashRuns: o.HashRuns, LoopRuns: o.LoopRuns, FsyncRuns: o.FsyncRuns, SQLiteRuns: o.SQLiteRuns, SQLiteRows: o.SQLiteRows}

	var err error
	c.HashMS, err = median(o.HashRuns, func() error {
		phc, err := password.Hash(ctx, "usherload calibration")
		if f := strings.Split(phc, "$"); len(f) > 3 {
			c.HashParams = f[3] // m=…,t=…,p=…
		}
		return err
	})
	if err != nil {
		return c, fmt.Errorf("calibration hash: %w", err)
	}

	block := make([]byte, 1<<20)
	for i := range block {
		block[i] = byte(i * 7)
	}
	var sink byte
	c.LoopMS, _ = median(o.LoopRuns, func() error {
		h := sha256.New()
		for range o.LoopMiB {
			h.Write(block)
		}
		sink ^= h.Sum(nil)[0]
		return ctx.Err()
	})
	_ = sink
	if c.SQLiteMS, err = sqliteWork(ctx, o.SQLiteRuns, o.SQLiteRows); err != nil {
		return c, fmt.Errorf("calibration SQLite in memory: %w", err)
	}

	if c.FsyncMS, err = fsyncLatency(o.Dir, o.FsyncRuns); err != nil {
		return c, fmt.Errorf("calibration fsync in %s: %w", o.Dir, err)
	}
	if c.WriteUS, err = writeCost(o.Dir); err != nil {
		return c, fmt.Errorf("calibration file writes in %s: %w", o.Dir, err)
	}
	c.SyscallNS = syscallCost()
	if c.SpeedUS = speedCalibration(); c.SpeedUS > 0 {
		c.SpeedRuns = speedCalRuns
	}
	if c.RoundTripUS, err = roundTrip(ctx); err != nil {
		return c, fmt.Errorf("calibration loopback round trip: %w", err)
	}
	return c, ctx.Err()
}

// quickRuns is how many runs the system call's and the round trip's
// medians are taken of; each run is many calls, so few runs suffice.
const quickRuns = 5

// syscallCost is the median time of one getppid, in nanoseconds, over
// runs of 20,000 calls (getppid is never answered without the kernel).
func syscallCost() float64 {
	const calls = 20000
	ms, _ := median(quickRuns, func() error {
		for range calls {
			syscall.Getppid()
		}
		return nil
	})
	return ms * 1e6 / calls
}

// roundTrip is the median time of one 64-byte round trip over loopback
// TCP to an echoing goroutine, in microseconds, over runs of 2,000.
func roundTrip(ctx context.Context) (float64, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	echoed := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			echoed <- err
			return
		}
		defer c.Close()
		_, err = io.Copy(c, c)
		echoed <- err
	}()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", ln.Addr().String())
	if err != nil {
		return 0, err
	}
	msg := make([]byte, 64)
	const trips = 2000
	ms, err := median(quickRuns, func() error {
		for range trips {
			if _, err := c.Write(msg); err != nil {
				return err
			}
			if _, err := io.ReadFull(c, msg); err != nil {
				return err
			}
		}
		return ctx.Err()
	})
	c.Close()
	if err2 := <-echoed; err == nil && err2 != nil {
		err = err2
	}
	return ms * 1e3 / trips, err
}

// writeCost is the median time of one 4 kB write into the OS's cache, in
// microseconds, over runs of 4,000 writes that overwrite a 16 MB file
// written once before (as SQLite overwrites its WAL after the first
// checkpoint), with no flush.
func writeCost(dir string) (float64, error) {
	f, err := os.CreateTemp(dir, "usherload-writes-*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	const writes, size = 4000, 4096
	page := make([]byte, size)
	for i := range page {
		page[i] = byte(i)
	}
	pass := func() error {
		for i := range writes {
			if _, err := f.WriteAt(page, int64(i)*size); err != nil {
				return err
			}
		}
		return nil
	}
	if err := pass(); err != nil {
		return 0, err
	}
	ms, err := median(quickRuns, pass)
	return ms * 1e3 / writes, err
}

// fsyncLatency is the median time of an 8 kB write at the start of a
// preallocated file followed by its flush, as pg_test_fsync measures it.
func fsyncLatency(dir string, runs int) (float64, error) {
	f, err := os.CreateTemp(dir, "usherload-fsync-*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	page := make([]byte, 8192)
	for i := range page {
		page[i] = byte(i)
	}
	for range 128 { // 1 MiB written and synced first: only the data is flushed below
		if _, err := f.Write(page); err != nil {
			return 0, err
		}
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	return median(runs, func() error {
		page[0]++
		if _, err := f.WriteAt(page, 0); err != nil {
			return err
		}
		return datasync(f)
	})
}

// median runs fn n times and returns the median duration in milliseconds.
func median(n int, fn func() error) (float64, error) {
	d := make([]time.Duration, 0, n)
	for range n {
		t0 := time.Now()
		if err := fn(); err != nil {
			return 0, err
		}
		d = append(d, time.Since(t0))
	}
	return float64(medianOf(d)) / float64(time.Millisecond), nil
}

// medianOf sorts d and returns its median.
func medianOf(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	m := d[len(d)/2]
	if len(d)%2 == 0 {
		m = (d[len(d)/2-1] + m) / 2
	}
	return m
}

// write prints the calibration as a few lines.
func (c calibration) write(w io.Writer) {
	m := c.Machine
	kernel := ""
	if m.Kernel != "" {
		kernel = ", Linux " + m.Kernel
	}
	fmt.Fprintf(w, "calibration: %d × %s, %s%s, load tool %s (medians of %d/%d/%d/%d/%d/%d/%d runs)\n",
		m.CPUs, orDash(m.CPUModel), m.OS, kernel, m.ToolGo, c.HashRuns, c.LoopRuns, c.SQLiteRuns, c.FsyncRuns, quickRuns, quickRuns, quickRuns)
	fmt.Fprintf(w, "  %-32s %8.2f ms\n", "argon2id hash ("+c.HashParams+")", c.HashMS)
	fmt.Fprintf(w, "  %-32s %8.2f ms\n", fmt.Sprintf("SHA-256 of %d MiB", c.LoopMiB), c.LoopMS)
	fmt.Fprintf(w, "  %-32s %8.2f ms\n", fmt.Sprintf("SQLite in memory (%d rows)", c.SQLiteRows), c.SQLiteMS)
	fmt.Fprintf(w, "  %-32s %8.3f ms  in %s\n", "8 kB write + "+c.FsyncCall, c.FsyncMS, c.FsyncDir)
	fmt.Fprintf(w, "  %-32s %8.2f µs\n", "4 kB write, no flush", c.WriteUS)
	fmt.Fprintf(w, "  %-32s %8.0f ns\n", "system call (getppid)", c.SyscallNS)
	fmt.Fprintf(w, "  %-32s %8.1f µs\n", "loopback TCP round trip (64 B)", c.RoundTripUS)
	if c.SpeedUS > 0 {
		fmt.Fprintf(w, "  %-32s %8.0f µs  of its thread's CPU, quiet (median of %d); each level gives its own\n", "core probe (8,192 keys sorted)", c.SpeedUS, c.SpeedRuns)
	}
	if p := c.Postgres; p != nil {
		p.write(w, c.FsyncDir)
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// The server's writers, read from its /metrics around each phase: on
// SQLite the single writer's transactions, on PostgreSQL the lanes' groups
// (store.WriterStats). They say how many writes share a commit, how long a
// transaction takes, and on SQLite how busy the one writer was.

// writerCounters are the server's cumulative writer metrics.
type writerCounters struct {
	transactions, writes, busySeconds, commitSeconds float64
}

// writerMetrics names the counters in the server's metrics.
var writerMetrics = map[string]func(*writerCounters) *float64{
	"usher_db_writer_transactions_total":   func(c *writerCounters) *float64 { return &c.transactions },
	"usher_db_writer_writes_total":         func(c *writerCounters) *float64 { return &c.writes },
	"usher_db_writer_busy_seconds_total":   func(c *writerCounters) *float64 { return &c.busySeconds },
	"usher_db_writer_commit_seconds_total": func(c *writerCounters) *float64 { return &c.commitSeconds },
}

// readWriter gets the writer counters from the server's /metrics.
func (a *api) readWriter(ctx context.Context) (writerCounters, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", a.base+"/metrics", nil)
	if err != nil {
		return writerCounters{}, err
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return writerCounters{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return writerCounters{}, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	return parseWriter(resp.Body)
}

// parseWriter reads the writer counters from metrics in Prometheus' text
// format; it fails unless all are there (an older server has none).
func parseWriter(r io.Reader) (writerCounters, error) {
	var c writerCounters
	found := map[string]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		// name value [timestamp]
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		field, known := writerMetrics[f[0]]
		if !known {
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			return c, fmt.Errorf("metric %s: %w", f[0], err)
		}
		*field(&c) = v
		found[f[0]] = true
	}
	if err := sc.Err(); err != nil {
		return c, fmt.Errorf("reading /metrics: %w", err)
	}
	if len(found) != len(writerMetrics) {
		return c, fmt.Errorf("the server's metrics hold %d of the %d writer counters", len(found), len(writerMetrics))
	}
	return c, nil
}

// writerPhase is what the writers did during a phase.
type writerPhase struct {
	Transactions float64 `json:"transactions"`
	// WritesPerTransaction is how many writes shared each commit.
	WritesPerTransaction float64 `json:"writes_per_transaction"`
	// MsPerTransaction is the writer's or a lane's busy time per committed
	// transaction; CommitMsPerTransaction the time in COMMIT per
	// transaction (store.WriterStats: on SQLite part of the first; on
	// PostgreSQL only COMMITs sent apart, which overlap the lane's next
	// group, while a COMMIT sent with a group's statements is in the first).
	MsPerTransaction       float64 `json:"ms_per_transaction"`
	CommitMsPerTransaction float64 `json:"commit_ms_per_transaction"`
	// Busy is the writers' busy seconds per second of the phase: on
	// SQLite how busy the one writer was (at most 1), on PostgreSQL the
	// lanes' together (at most their number).
	Busy float64 `json:"busy"`
}

func (c writerCounters) since(a writerCounters, seconds float64) *writerPhase {
	p := &writerPhase{Transactions: c.transactions - a.transactions}
	if p.Transactions > 0 {
		p.WritesPerTransaction = (c.writes - a.writes) / p.Transactions
		p.MsPerTransaction = (c.busySeconds - a.busySeconds) * 1000 / p.Transactions
		p.CommitMsPerTransaction = (c.commitSeconds - a.commitSeconds) * 1000 / p.Transactions
	}
	if seconds > 0 {
		p.Busy = (c.busySeconds - a.busySeconds) / seconds
	}
	return p
}

func (p *writerPhase) String() string {
	return fmt.Sprintf("%.1f writes/transaction, %.2f ms each (COMMIT %.2f), busy %.2f",
		p.WritesPerTransaction, p.MsPerTransaction, p.CommitMsPerTransaction, p.Busy)
}

// writeWriterTable prints the writers' figures of the phases that wrote.
func writeWriterTable(w io.Writer, results []result) {
	writePhaseTable(w, "the server's writers (SQLite: the one writer; PostgreSQL: the lanes' groups):",
		"transactions\twrites each\tbusy ms each\tCOMMIT ms each\tbusy", results,
		func(x result) (string, bool) {
			p := x.Writer
			if p == nil || p.Transactions == 0 {
				return "", false
			}
			return fmt.Sprintf("%.0f\t%.1f\t%.3f\t%.3f\t%.2f", p.Transactions, p.WritesPerTransaction, p.MsPerTransaction, p.CommitMsPerTransaction, p.Busy), true
		})
}

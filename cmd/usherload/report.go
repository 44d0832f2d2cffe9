package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// result is one phase at one concurrency.
type result struct {
	Phase       string         `json:"phase"` // create, fill or lookup
	Concurrency int            `json:"concurrency"`
	Requests    int            `json:"requests"`
	OK          int            `json:"ok"`               // 2xx with the expected answer
	Non2xx      int            `json:"non_2xx"`          // answered with another status
	Failed      int            `json:"transport_errors"` // no answer (connection refused, timeout)
	Mismatch    int            `json:"mismatches"`       // 2xx without the expected answer
	Status      map[string]int `json:"status_counts"`
	Seconds     float64        `json:"seconds"`
	PerSecond   float64        `json:"ok_per_second"`
	Latency     latency        `json:"latency_ms"` // of every answered request
	PeakRSSMB   float64        `json:"peak_rss_mb,omitempty"`
	CPU         *cpuSplit      `json:"cpu,omitempty"`
	// Speed is how fast the cores ran during the phase: the core probe's
	// time (speed.go).
	Speed *speedPhase `json:"core_probe,omitempty"`
	// Writer is what the server's writers did (its /metrics).
	Writer *writerPhase `json:"writer,omitempty"`
	// PG is PostgreSQL's WAL and commits per successful creation, with --pg-url.
	PG *pgPerRequest `json:"postgres_per_request,omitempty"`
	// ErrorSamples are the first failed answers, as received.
	ErrorSamples []string `json:"error_samples,omitempty"`
}

func (r result) line() string {
	s := fmt.Sprintf("%-6s c=%-3d %6d ok of %6d in %6.2fs = %7.0f/s  p50 %.2fms p90 %.2fms p99 %.2fms max %.2fms",
		r.Phase, r.Concurrency, r.OK, r.Requests, r.Seconds, r.PerSecond, r.Latency.P50, r.Latency.P90, r.Latency.P99, r.Latency.Max)
	if r.Non2xx+r.Failed+r.Mismatch > 0 {
		s += fmt.Sprintf("  non-2xx %d, transport errors %d, unexpected %d", r.Non2xx, r.Failed, r.Mismatch)
	}
	if r.PeakRSSMB > 0 {
		s += fmt.Sprintf("  peak RSS %.1f MB", r.PeakRSSMB)
	}
	if r.CPU != nil {
		s += "  cpu " + r.CPU.String() + "  switches/req " + r.CPU.switches()
	}
	if r.Writer != nil && r.Writer.Transactions > 0 {
		s += "  writer " + r.Writer.String()
	}
	if r.Speed != nil {
		s += fmt.Sprintf("  core probe %.0f µs", r.Speed.ProbeUS)
	}
	for _, e := range r.ErrorSamples {
		s += "\n    " + e
	}
	return s
}

// String gives cores used by usher/the database/the load tool/the rest,
// idle and stolen by the host.
func (c *cpuSplit) String() string {
	srv, db := "-", "-"
	if c.ServerKnown {
		srv = fmt.Sprintf("%.2f", c.Server)
	}
	if c.DBKnown {
		db = fmt.Sprintf("%.2f", c.DB)
	}
	return fmt.Sprintf("%s/%s/%.2f/%.2f/%.2f/%.2f", srv, db, c.Tool, c.Other, c.Idle, c.Steal)
}

// switches gives the context switches per request of usher/the
// database/the load tool.
func (c *cpuSplit) switches() string {
	f := func(v float64, known bool) string {
		if !known {
			return "-"
		}
		return fmt.Sprintf("%.1f", v)
	}
	return f(c.ServerSwitchesPerReq, c.ServerSwitchesKnown) + "/" + f(c.DBSwitchesPerReq, c.DBSwitchesKnown) + "/" + f(c.ToolSwitchesPerReq, c.ToolSwitchesKnown)
}

// machine describes where the run happened.
type machine struct {
	CPUs     int    `json:"cpus"`
	CPUModel string `json:"cpu_model"`
	OS       string `json:"os"`
	Kernel   string `json:"kernel,omitempty"`
	ToolGo   string `json:"load_tool_go"`
}

func machineInfo() machine {
	m := machine{CPUs: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH, ToolGo: runtime.Version()}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

// report is the whole run.
type report struct {
	Machine machine `json:"machine"`
	// Calibration is the machine's, measured at the start (--calibrate).
	Calibration *calibration `json:"calibration,omitempty"`
	URL         string       `json:"url"`
	Database    string       `json:"database"`
	Tenant      string       `json:"tenant"`
	Mode        string       `json:"mode"`
	PID         int          `json:"pid,omitempty"`
	Accounts    int          `json:"accounts"` // the tool's accounts in the tenant at the end
	Started     time.Time    `json:"started"`
	Finished    time.Time    `json:"finished"`
	Results     []result     `json:"results"`
	Memory      *memory      `json:"server_memory,omitempty"`
	Error       string       `json:"error,omitempty"`
}

func (r report) writeJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func (r report) writeTable(w io.Writer) {
	fmt.Fprintf(w, "\nusher at %s, database %s, tenant %s (%d accounts)\n", r.URL, r.Database, r.Tenant, r.Accounts)
	if r.Calibration != nil {
		r.Calibration.write(w)
	} else {
		fmt.Fprintf(w, "machine: %d × %s, %s, load tool built with %s\n", r.Machine.CPUs, r.Machine.CPUModel, r.Machine.OS, r.Machine.ToolGo)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\tconc\trequests\tok\tnon-2xx\terrors\tseconds\tok/s\tp50 ms\tp90 ms\tp99 ms\tmax ms\tpeak RSS MB\tCPU cores usher/db/tool/other/idle/steal\tswitches/req usher/db/tool\tcore probe µs\t")
	for _, x := range r.Results {
		rss := "-"
		if x.PeakRSSMB > 0 {
			rss = fmt.Sprintf("%.1f", x.PeakRSSMB)
		}
		cpu, switches, speed := "-", "-", "-"
		if x.CPU != nil {
			cpu, switches = x.CPU.String(), x.CPU.switches()
		}
		if x.Speed != nil {
			speed = fmt.Sprintf("%.0f", x.Speed.ProbeUS)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%.2f\t%.0f\t%.3f\t%.3f\t%.3f\t%.2f\t%s\t%s\t%s\t%s\t\n",
			x.Phase, x.Concurrency, x.Requests, x.OK, x.Non2xx, x.Failed+x.Mismatch, x.Seconds, x.PerSecond,
			x.Latency.P50, x.Latency.P90, x.Latency.P99, x.Latency.Max, rss, cpu, switches, speed)
	}
	tw.Flush()
	writePGTable(w, r.Results)
	writeWriterTable(w, r.Results)
	for _, x := range r.Results {
		if len(x.ErrorSamples) == 0 {
			continue
		}
		fmt.Fprintf(w, "\nfirst failures of %s c=%d:\n", x.Phase, x.Concurrency)
		for _, e := range x.ErrorSamples {
			fmt.Fprintf(w, "  %s\n", e)
		}
	}
	if m := r.Memory; m != nil {
		fmt.Fprintf(w, "\nserver pid %d: RSS %.1f MB at start, %.1f MB at end, peak sampled %.1f MB (%d samples); VmHWM %.1f MB (%.1f MB at start)\n",
			m.PID, m.StartRSSMB, m.EndRSSMB, m.PeakRSSMB, m.Samples, m.HWMMB, m.StartHWMMB)
		if m.Error != "" {
			fmt.Fprintf(w, "  sampling stopped: %s\n", m.Error)
		}
	}
	if r.Error != "" {
		fmt.Fprintf(w, "\nstopped early: %s\n", r.Error)
	}
}

// writePhaseTable prints, under title, a table of the phases for which row
// gives the cells after the phase and its concurrency; nothing if none.
func writePhaseTable(w io.Writer, title, header string, results []result, row func(result) (string, bool)) {
	var lines []string
	for _, x := range results {
		if cells, ok := row(x); ok {
			lines = append(lines, fmt.Sprintf("%s\t%d\t%s\t", x.Phase, x.Concurrency, cells))
		}
	}
	if len(lines) == 0 {
		return
	}
	fmt.Fprintln(w, "\n"+title)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "phase\tconc\t"+header+"\t")
	for _, l := range lines {
		fmt.Fprintln(tw, l)
	}
	tw.Flush()
}

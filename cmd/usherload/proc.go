package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
)

// monitor samples a process's resident memory from /proc/<pid>/status.
type monitor struct {
	pid  int
	path string
	stop func()

	mu        sync.Mutex
	startRSS  int64 // kB, all of them
	startHWM  int64
	lastRSS   int64
	peakRSS   int64
	phasePeak int64
	hwm       int64
	samples   int
	err       error
}

func startMonitor(pid int, every time.Duration) (*monitor, error) {
	m := &monitor{pid: pid, path: fmt.Sprintf("/proc/%d/status", pid)}
	rss, hwm, err := readStatus(m.path)
	if err != nil {
		return nil, fmt.Errorf("--pid %d: %w", pid, err)
	}
	m.startRSS, m.startHWM, m.lastRSS, m.peakRSS, m.phasePeak, m.hwm, m.samples = rss, hwm, rss, rss, rss, hwm, 1
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if !m.sample() {
					return
				}
			}
		}
	}()
	var once sync.Once
	m.stop = func() {
		once.Do(func() {
			close(done)
			wg.Wait()
			m.sample()
		})
	}
	return m, nil
}

// sample reads the process's memory once; false when it is gone.
func (m *monitor) sample() bool {
	rss, hwm, err := readStatus(m.path)
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		if m.err == nil {
			m.err = err
		}
		return false
	}
	m.samples++
	m.lastRSS = rss
	m.peakRSS = max(m.peakRSS, rss)
	m.phasePeak = max(m.phasePeak, rss)
	m.hwm = max(m.hwm, hwm)
	return true
}

func (m *monitor) gone() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err != nil
}

// startPhase begins a phase's peak at the current resident size.
func (m *monitor) startPhase() {
	m.sample()
	m.mu.Lock()
	m.phasePeak = m.lastRSS
	m.mu.Unlock()
}

// endPhase returns the phase's peak resident size in MB.
func (m *monitor) endPhase() float64 {
	m.sample()
	m.mu.Lock()
	defer m.mu.Unlock()
	return mb(m.phasePeak)
}

// memory is the run's memory summary, in MB (2^20 bytes).
type memory struct {
	PID        int     `json:"pid"`
	StartRSSMB float64 `json:"start_rss_mb"`
	EndRSSMB   float64 `json:"end_rss_mb"`
	PeakRSSMB  float64 `json:"peak_rss_mb"` // highest VmRSS sampled during the run
	// VmHWM is the kernel's own peak of the process's resident size since it
	// started, so it also covers moments between samples (and before the run).
	StartHWMMB float64 `json:"start_vmhwm_mb"`
	HWMMB      float64 `json:"vmhwm_mb"`
	Samples    int     `json:"samples"`
	Error      string  `json:"error,omitempty"`
}

func (m *monitor) summary() *memory {
	m.stop()
	m.mu.Lock()
	defer m.mu.Unlock()
	s := &memory{PID: m.pid, StartRSSMB: mb(m.startRSS), EndRSSMB: mb(m.lastRSS), PeakRSSMB: mb(m.peakRSS),
		StartHWMMB: mb(m.startHWM), HWMMB: mb(m.hwm), Samples: m.samples}
	if m.err != nil {
		s.Error = m.err.Error()
	}
	return s
}

func mb(kb int64) float64 { return float64(kb) / 1024 }

// readStatus returns VmRSS and VmHWM in kB.
func readStatus(path string) (rss, hwm int64, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, err
	}
	return parseStatus(b)
}

func parseStatus(b []byte) (rss, hwm int64, err error) {
	found := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		key, val, ok := strings.Cut(sc.Text(), ":")
		if !ok || (key != "VmRSS" && key != "VmHWM") {
			continue
		}
		f := strings.Fields(val)
		if len(f) != 2 || f[1] != "kB" {
			return 0, 0, fmt.Errorf("unexpected %s line %q", key, sc.Text())
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, 0, err
		}
		if key == "VmRSS" {
			rss = n
		} else {
			hwm = n
		}
		found++
	}
	if found != 2 {
		return 0, 0, errors.New("no VmRSS/VmHWM (a kernel thread, or not Linux?)")
	}
	return rss, hwm, nil
}

// CPU accounting from /proc, in seconds of CPU time.

// clockTick is USER_HZ, the unit of /proc CPU times; 100 on every Linux
// architecture Go supports (sysconf is out of reach without cgo).
const clockTick = 100.0

// cpuSnapshot holds cumulative CPU times and context switches.
type cpuSnapshot struct {
	server, self, busy, iowait, steal, total float64
	serverOK, machineOK                      bool
	db                                       map[int]float64 // by pid, when counting the database's processes
	// Context switches, voluntary and not, by thread: each is a sleep
	// and a wakeup (or a preemption), the cost a virtual machine's slow
	// interrupt handling multiplies. nil where they could not be read.
	serverSwitches threadSwitches
	dbSwitches     map[int]threadSwitches // by pid
	selfSwitches   float64                // getrusage's: exited threads included
	selfOK         bool
}

// cpuProbe says which processes to account for.
type cpuProbe struct {
	pid     int    // the usher server, 0 for none
	dbComm  string // command name of the database's processes ("postgres"), "" for none
	dbMatch string // if set, only those whose command line holds it (or is a shared writer)
}

// take reads the CPU used so far by the server, the database's processes,
// this process and the whole machine.
func (p cpuProbe) take() cpuSnapshot {
	var c cpuSnapshot
	if p.pid > 0 {
		if v, err := procCPU(fmt.Sprintf("/proc/%d/stat", p.pid)); err == nil {
			c.server, c.serverOK = v, true
			c.serverSwitches, _ = readSwitches(fmt.Sprintf("/proc/%d", p.pid))
		}
	}
	if p.dbComm != "" {
		c.db = commCPU(p.dbComm, p.dbMatch)
		c.dbSwitches = make(map[int]threadSwitches, len(c.db))
		for pid := range c.db {
			if ts, err := readSwitches(fmt.Sprintf("/proc/%d", pid)); err == nil {
				c.dbSwitches[pid] = ts
			}
		}
	}
	c.self, _ = procCPU("/proc/self/stat")
	c.selfSwitches, c.selfOK = ownSwitches()
	if b, err := os.ReadFile("/proc/stat"); err == nil {
		c.busy, c.iowait, c.steal, c.total, c.machineOK = parseMachineCPU(b)
	}
	return c
}

// sharedDBProcesses are PostgreSQL's own processes, which work for every
// database: counted even with a match.
var sharedDBProcesses = []string{": checkpointer", ": background writer", ": walwriter"}

// commCPU returns the CPU seconds of every visible process named comm whose
// command line holds match (all of them when match is empty).
func commCPU(comm, match string) map[int]float64 {
	out := map[int]float64{}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return out
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i, j := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
		if i < 0 || j < i || string(b[i+1:j]) != comm {
			continue
		}
		if match != "" {
			cmd, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
			if err != nil {
				continue
			}
			ok := bytes.Contains(cmd, []byte(match))
			for _, s := range sharedDBProcesses {
				ok = ok || bytes.Contains(cmd, []byte(s))
			}
			if !ok {
				continue
			}
		}
		if v, err := parseProcStat(b); err == nil {
			out[pid] = v
		}
	}
	return out
}

// threadSwitches maps a process's thread ids to their context switches so
// far. A process's own status file counts only its first thread.
type threadSwitches map[int]float64

// readSwitches reads the context switches of every thread of the process
// at dir (/proc/<pid>).
func readSwitches(dir string) (threadSwitches, error) {
	tasks, err := os.ReadDir(dir + "/task")
	if err != nil {
		return nil, err
	}
	ts := make(threadSwitches, len(tasks))
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(dir + "/task/" + t.Name() + "/status")
		if err != nil {
			continue // the thread ended meanwhile
		}
		n, err := parseSwitches(b)
		if err != nil {
			return nil, fmt.Errorf("%s/task/%s/status: %w", dir, t.Name(), err)
		}
		ts[tid] = n
	}
	return ts, nil
}

// since counts the switches made between a and ts: a thread's in both, a
// new thread's whole. A thread that ended in between takes its switches
// with it (Go's threads and PostgreSQL's processes last).
func (ts threadSwitches) since(a threadSwitches) float64 {
	var n float64
	for tid, v := range ts {
		n += v - a[tid]
	}
	return n
}

// parseSwitches adds up a status file's voluntary_ctxt_switches and
// nonvoluntary_ctxt_switches.
func parseSwitches(b []byte) (float64, error) {
	var sum float64
	found := 0
	for line := range bytes.Lines(b) {
		key, val, ok := bytes.Cut(line, []byte(":"))
		if !ok || (string(key) != "voluntary_ctxt_switches" && string(key) != "nonvoluntary_ctxt_switches") {
			continue
		}
		n, err := strconv.ParseFloat(string(bytes.TrimSpace(val)), 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %w", key, err)
		}
		sum += n
		found++
	}
	if found != 2 {
		return 0, errors.New("no context switch counts in status")
	}
	return sum, nil
}

// procCPU is a process's utime+stime (fields 14 and 15 of /proc/<pid>/stat).
func procCPU(path string) (float64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return parseProcStat(b)
}

func parseProcStat(b []byte) (float64, error) {
	// The command name, in parentheses, may hold spaces: count from the last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, errors.New("malformed stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, errors.New("short stat")
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return (ut + st) / clockTick, nil
}

// parseMachineCPU reads the "cpu" line of /proc/stat: seconds summed over
// all cores of busy time (user, nice, system, irq, softirq), of waiting for
// I/O, of steal (a virtual machine's cores taken by its host) and in all.
func parseMachineCPU(b []byte) (busy, iowait, steal, total float64, ok bool) {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 9 || f[0] != "cpu" {
		return 0, 0, 0, 0, false
	}
	var v [8]float64
	for i := range v {
		n, err := strconv.ParseFloat(f[i+1], 64)
		if err != nil {
			return 0, 0, 0, 0, false
		}
		v[i] = n
	}
	for _, x := range v { // user nice system idle iowait irq softirq steal
		total += x
	}
	busy = v[0] + v[1] + v[2] + v[5] + v[6]
	return busy / clockTick, v[4] / clockTick, v[7] / clockTick, total / clockTick, true
}

// cpuSplit is where a phase's CPU time went, in cores (CPU seconds per
// second of the phase) and in microseconds per request.
type cpuSplit struct {
	Cores  int     `json:"machine_cores"`
	Server float64 `json:"server_cores"`
	DB     float64 `json:"database_cores"` // the database's processes, when counted (--db-process)
	Tool   float64 `json:"load_tool_cores"`
	Other  float64 `json:"other_cores"` // the rest of the machine's busy time: the kernel, other programs
	Idle   float64 `json:"idle_cores"`  // idle, waiting for I/O included
	IOWait float64 `json:"iowait_cores"`
	Steal  float64 `json:"steal_cores"` // taken by the virtual machine's host

	ServerPerReq float64 `json:"server_us_per_request"`
	DBPerReq     float64 `json:"database_us_per_request"`
	ToolPerReq   float64 `json:"load_tool_us_per_request"`
	OtherPerReq  float64 `json:"other_us_per_request"`
	ServerKnown  bool    `json:"server_known"`
	DBKnown      bool    `json:"database_known"`

	// Context switches per request: a count, which moves far less between
	// machines than CPU time (it depends on how requests group, not on
	// how fast each step runs).
	ServerSwitchesPerReq float64 `json:"server_switches_per_request"`
	DBSwitchesPerReq     float64 `json:"database_switches_per_request"`
	ToolSwitchesPerReq   float64 `json:"load_tool_switches_per_request"`
	ServerSwitchesKnown  bool    `json:"server_switches_known"`
	DBSwitchesKnown      bool    `json:"database_switches_known"`
	ToolSwitchesKnown    bool    `json:"load_tool_switches_known"`
}

func (c cpuSnapshot) since(a cpuSnapshot, wall time.Duration, requests int) cpuSplit {
	s := cpuSplit{Cores: runtime.NumCPU(), ServerKnown: c.serverOK && a.serverOK, DBKnown: len(c.db) > 0}
	secs := wall.Seconds()
	if secs <= 0 || !c.machineOK || !a.machineOK {
		return s
	}
	server := 0.0
	if s.ServerKnown {
		server = c.server - a.server
	}
	db := 0.0
	for pid, v := range c.db {
		db += v - a.db[pid] // a process started during the phase counts whole
	}
	tool := c.self - a.self
	busy := c.busy - a.busy
	other := max(0, busy-server-db-tool)
	s.Server, s.DB, s.Tool, s.Other = server/secs, db/secs, tool/secs, other/secs
	steal := max(0, c.steal-a.steal)
	s.Idle = max(0, (c.total-a.total)-busy-steal) / secs
	s.IOWait = max(0, c.iowait-a.iowait) / secs
	s.Steal = steal / secs
	if requests > 0 {
		per := 1e6 / float64(requests)
		s.ServerPerReq, s.DBPerReq, s.ToolPerReq, s.OtherPerReq = server*per, db*per, tool*per, other*per
		per = 1 / float64(requests)
		if s.ServerKnown && c.serverSwitches != nil && a.serverSwitches != nil {
			s.ServerSwitchesPerReq, s.ServerSwitchesKnown = c.serverSwitches.since(a.serverSwitches)*per, true
		}
		if n, ok := dbSwitchesSince(c, a); ok {
			s.DBSwitchesPerReq, s.DBSwitchesKnown = n*per, true
		}
		if c.selfOK && a.selfOK {
			s.ToolSwitchesPerReq, s.ToolSwitchesKnown = (c.selfSwitches-a.selfSwitches)*per, true
		}
	}
	return s
}

// dbSwitchesSince counts the database's processes' switches between a and
// c: a process started in between counts whole, as its CPU does; one that
// ran at a but whose switches were not read then is left out rather than
// counted from its start. Nothing is known when a read no process.
func dbSwitchesSince(c, a cpuSnapshot) (float64, bool) {
	if len(c.dbSwitches) == 0 || len(a.db) == 0 {
		return 0, false
	}
	var n float64
	for pid, ts := range c.dbSwitches {
		before, ok := a.dbSwitches[pid]
		if !ok {
			if _, existed := a.db[pid]; existed {
				continue
			}
		}
		n += ts.since(before)
	}
	return n, true
}

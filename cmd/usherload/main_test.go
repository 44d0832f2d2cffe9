package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	d := make([]time.Duration, 100)
	for i := range d {
		d[i] = time.Duration(i+1) * time.Millisecond
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {90, 90 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}, {0.1, time.Millisecond}} {
		if got := percentile(d, c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	if got := percentile(d[:1], 99); got != time.Millisecond {
		t.Errorf("p99 of one = %v", got)
	}
	s := summarize([]time.Duration{3 * time.Millisecond, time.Millisecond, 2 * time.Millisecond})
	if s.P50 != 2 || s.Max != 3 || s.Mean != 2 {
		t.Errorf("summary %+v", s)
	}
}

func TestParseLevels(t *testing.T) {
	got, err := parseLevels("1, 8,32")
	if err != nil || len(got) != 3 || got[0] != 1 || got[1] != 8 || got[2] != 32 {
		t.Fatalf("got %v, %v", got, err)
	}
	for _, bad := range []string{"", "0", "x", "1,-2", "5000"} {
		if _, err := parseLevels(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestCheckURL(t *testing.T) {
	for _, ok := range []string{"http://127.0.0.1:8080", "http://localhost:1/", "https://[::1]:9", "http://127.0.0.2"} {
		if _, err := checkURL(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"http://example.com", "http://10.0.0.1:80", "ftp://127.0.0.1", "http://u:p@127.0.0.1", "http://127.0.0.1/?x=1", "127.0.0.1:80"} {
		if _, err := checkURL(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestParseProc(t *testing.T) {
	rss, hwm, err := parseStatus([]byte("Name:\tusher\nVmPeak:\t 1 kB\nVmHWM:\t   51200 kB\nVmRSS:\t   40960 kB\nThreads: 9\n"))
	if err != nil || rss != 40960 || hwm != 51200 {
		t.Fatalf("rss %d hwm %d err %v", rss, hwm, err)
	}
	if _, _, err := parseStatus([]byte("Name:\tkthreadd\n")); err == nil {
		t.Error("kernel thread accepted")
	}
	// utime 250, stime 50 ticks; the command name holds a space and a ')'.
	stat := "42 (odd) name) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 1000 1 1 0"
	if v, err := parseProcStat([]byte(stat)); err != nil || v != 3 {
		t.Fatalf("cpu %v, %v", v, err)
	}
	busy, iowait, steal, total, ok := parseMachineCPU([]byte("cpu  100 0 50 800 10 0 20 20 0 0\ncpu0 1 2 3\n"))
	if !ok || busy != 1.7 || iowait != 0.1 || steal != 0.2 || total != 10 {
		t.Fatalf("busy %v iowait %v steal %v total %v ok %v", busy, iowait, steal, total, ok)
	}
	if _, _, err := readStatus("/proc/self/status"); err != nil && !os.IsNotExist(err) {
		t.Fatalf("own status: %v", err)
	}
}

func TestConfig(t *testing.T) {
	env := func(k string) string {
		if k == "USHER_TOKEN" {
			return "tok"
		}
		return ""
	}
	c, err := parseConfig([]string{"--mode", "all", "--concurrency", "1,8", "--n", "10", "--accounts", "50"}, env, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Token != "tok" || c.Lookups != 10 || len(c.LookupConc) != 2 || !strings.HasPrefix(c.Slug, "load-") {
		t.Errorf("config %+v", c)
	}
	if got := c.seatsNeeded(); got < 50 {
		t.Errorf("seats %d for 50 accounts", got)
	}
	for _, args := range [][]string{
		{"--url", "http://192.0.2.1"},
		{"--mode", "delete"},
		{"--n", "0"},
		{"--concurrency", "0"},
		{"--pid", "1", "--pid-file", "x"},
		{"--mode", "lookup", "--accounts", "0"},
	} {
		if _, err := parseConfig(args, env, io.Discard); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
	if _, err := parseConfig(nil, func(string) string { return "" }, io.Discard); err == nil {
		t.Error("no token accepted")
	}
}

// fake is just enough of usher's API for the tool's calls.
type fake struct {
	mu       sync.Mutex
	token    string
	slug     string
	settings map[string]any
	plan     string
	seats    int
	emails   map[string]bool
	patched  map[string]any
	conns    map[string]bool
	// transactions counts the creations, each a writer's transaction of
	// 2 ms, 0.5 ms of it in COMMIT, as the server's /metrics would.
	transactions int
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.conns[r.RemoteAddr] = true
	if r.URL.Path == "/readyz" || r.URL.Path == "/healthz" {
		json.NewEncoder(w).Encode(map[string]string{"status": "ready", "database": "fake"})
		return
	}
	if r.URL.Path == "/metrics" {
		n := float64(f.transactions)
		fmt.Fprintf(w, "# TYPE usher_db_writer_busy_seconds_total counter\nusher_db_writer_busy_seconds_total %g\n", n*0.002)
		fmt.Fprintf(w, "usher_db_writer_commit_seconds_total %g\nusher_db_writer_transactions_total %g\n", n*0.0005, n)
		fmt.Fprintf(w, "usher_db_writer_writes_total %g\nusher_http_requests_total{code=\"200\",route=\"x\"} 1\n", n)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+f.token {
		http.Error(w, `{"code":"unauthorized"}`, 401)
		return
	}
	var in map[string]any
	if r.Body != nil {
		json.NewDecoder(r.Body).Decode(&in)
	}
	tpath := "/api/v1/tenants/" + f.slug
	switch {
	case r.Method == "POST" && r.URL.Path == "/api/v1/tenants":
		f.slug = in["slug"].(string)
		w.WriteHeader(201)
		json.NewEncoder(w).Encode(map[string]any{"id": "t1", "slug": f.slug, "settings": f.settings})
	case r.Method == "POST" && r.URL.Path == tpath+"/plans":
		f.plan, f.seats = "p1", int(in["seats"].(float64))
		w.WriteHeader(201)
		json.NewEncoder(w).Encode(map[string]any{"id": f.plan})
	case r.Method == "GET" && r.URL.Path == tpath:
		json.NewEncoder(w).Encode(map[string]any{"id": "t1", "slug": f.slug, "settings": f.settings})
	case r.Method == "PATCH" && r.URL.Path == tpath:
		f.patched = in["settings"].(map[string]any)
		f.settings = f.patched
		json.NewEncoder(w).Encode(map[string]any{"id": "t1", "settings": f.settings})
	case r.Method == "POST" && r.URL.Path == tpath+"/accounts":
		email, _ := in["email"].(string)
		if f.settings["default_plan_id"] != f.plan || len(f.emails) >= f.seats || f.emails[email] || in["first_name"] == nil {
			w.WriteHeader(409)
			io.WriteString(w, `{"code":"conflict"}`)
			return
		}
		f.emails[email] = true
		f.transactions++
		w.WriteHeader(201)
		json.NewEncoder(w).Encode(map[string]any{"account": map[string]any{"email": email}})
	case r.Method == "GET" && r.URL.Path == tpath+"/accounts":
		login := r.URL.Query().Get("login")
		items := []any{}
		if f.emails[login] {
			items = append(items, map[string]any{"email": login})
		}
		json.NewEncoder(w).Encode(map[string]any{"items": items})
	default:
		http.Error(w, `{"code":"not_found"}`, 404)
	}
}

func TestRunAgainstFake(t *testing.T) {
	f := &fake{token: "secret", emails: map[string]bool{}, conns: map[string]bool{},
		settings: map[string]any{"required_fields": []any{"first_name", "email"}, "languages": []any{"en"}, "default_language": "en", "registration": "off"}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	var out, errs bytes.Buffer
	args := []string{"--url", srv.URL, "--token", "secret", "--mode", "all", "--concurrency", "1,4", "--n", "20",
		"--accounts", "100", "--lookups", "200", "--fill-concurrency", "8", "--pid", strconv.Itoa(os.Getpid()), "--json", "--tenant", "load-test"}
	if err := run(context.Background(), args, func(string) string { return "" }, &out, &errs); err != nil {
		t.Fatalf("run: %v\n%s", err, errs.String())
	}
	var rep report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("json: %v\n%s", err, out.String())
	}
	if rep.Tenant != "load-test" || rep.Database != "fake" || rep.Accounts != 100 || len(f.emails) != 100 {
		t.Errorf("tenant %s database %s accounts %d, server has %d", rep.Tenant, rep.Database, rep.Accounts, len(f.emails))
	}
	if f.patched["default_plan_id"] != "p1" || f.patched["registration"] != "off" || f.patched["default_language"] != "en" {
		t.Errorf("PATCH settings %v: the whole object with default_plan_id expected", f.patched)
	}
	var phases []string
	for _, r := range rep.Results {
		phases = append(phases, r.Phase+strconv.Itoa(r.Concurrency))
		if r.OK != r.Requests || r.Non2xx+r.Failed+r.Mismatch != 0 {
			t.Errorf("%s c=%d: %d ok of %d: %v", r.Phase, r.Concurrency, r.OK, r.Requests, r.ErrorSamples)
		}
		if r.Latency.Max <= 0 || r.PerSecond <= 0 || r.CPU == nil || r.PeakRSSMB <= 0 {
			t.Errorf("%s c=%d: incomplete %+v", r.Phase, r.Concurrency, r)
		}
		if _, known := threadCPU(); known && (r.Speed == nil || r.Speed.Runs < 1 || r.Speed.ProbeUS <= 0) {
			t.Errorf("%s c=%d: core probe %+v", r.Phase, r.Concurrency, r.Speed)
		}
	}
	for _, r := range rep.Results {
		w := r.Writer
		switch {
		case w == nil:
			t.Errorf("%s c=%d: no writer figures", r.Phase, r.Concurrency)
		case r.Phase == "lookup" && w.Transactions != 0:
			t.Errorf("lookups wrote: %+v", w)
		case r.Phase == "create" && (w.Transactions != float64(r.OK) || w.WritesPerTransaction != 1 ||
			math.Abs(w.MsPerTransaction-2) > 1e-6 || math.Abs(w.CommitMsPerTransaction-0.5) > 1e-6 || w.Busy <= 0):
			t.Errorf("create c=%d, %d created: writer %+v", r.Concurrency, r.OK, w)
		}
	}
	if !strings.Contains(errs.String(), "the server's writers") {
		t.Errorf("no writer table:\n%s", errs.String())
	}
	if got := strings.Join(phases, " "); got != "create1 create4 fill8 lookup1 lookup4" {
		t.Errorf("phases %s", got)
	}
	if c := rep.Calibration; c == nil || c.HashMS <= 0 || c.LoopMS <= 0 || c.FsyncMS <= 0 {
		t.Errorf("calibration %+v", c)
	}
	if !strings.Contains(errs.String(), "calibration: ") || !strings.Contains(errs.String(), "argon2id hash") {
		t.Errorf("no calibration in the table:\n%s", errs.String())
	}
	if _, known := threadCPU(); known && !regexp.MustCompile(`core probe \(8,192 keys sorted\) +\d+ µs`).MatchString(errs.String()) {
		t.Errorf("no core probe in the calibration:\n%s", errs.String())
	}
	if rep.Memory == nil || rep.Memory.PeakRSSMB <= 0 {
		t.Errorf("memory %+v", rep.Memory)
	}
	if !strings.Contains(errs.String(), "lookup") || !strings.Contains(errs.String(), "p99 ms") {
		t.Errorf("table on stderr:\n%s", errs.String())
	}
	// Keep-alive: far fewer connections than requests.
	if len(f.conns) > 20 {
		t.Errorf("%d connections for %d requests", len(f.conns), 20*2+80+400)
	}
}

func TestRunExisting(t *testing.T) {
	f := &fake{token: "secret", slug: "load-old", emails: map[string]bool{}, conns: map[string]bool{}}
	for i := 1; i <= 25; i++ { // u26..u50 are missing
		f.emails[email(int64(i))] = true
	}
	srv := httptest.NewServer(f)
	defer srv.Close()
	var out bytes.Buffer
	args := []string{"--url", srv.URL, "--token", "secret", "--mode", "lookup", "--tenant", "load-old", "--existing", "50", "--calibrate=false",
		"--concurrency", "2", "--lookups", "500", "--json", "--show-errors", "1"}
	if err := run(context.Background(), args, func(string) string { return "" }, &out, io.Discard); err != nil {
		t.Fatalf("run: %v", err)
	}
	var rep report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 1 || rep.Results[0].Phase != "lookup" || rep.Results[0].Requests != 500 {
		t.Fatalf("results %+v", rep.Results)
	}
	if r := rep.Results[0]; r.Mismatch == 0 || r.OK+r.Mismatch != 500 || len(r.ErrorSamples) != 1 {
		t.Errorf("half are missing: %d ok, %d unexpected, samples %v", r.OK, r.Mismatch, r.ErrorSamples)
	}
	if len(f.emails) != 25 {
		t.Errorf("accounts were created: %d", len(f.emails))
	}
	if _, err := parseConfig([]string{"--token", "x", "--existing", "5"}, func(string) string { return "" }, io.Discard); err == nil {
		t.Error("--existing without --tenant accepted")
	}
}

func TestRunCountsFailures(t *testing.T) {
	f := &fake{token: "secret", emails: map[string]bool{}, conns: map[string]bool{},
		settings: map[string]any{"languages": []any{"en"}, "default_language": "en", "registration": "off"}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	var out, errs bytes.Buffer
	// 5 seats for 30 creates: 25 conflicts.
	args := []string{"--url", srv.URL, "--token", "secret", "--mode", "create", "--concurrency", "3", "--n", "30", "--seats", "5", "--show-errors", "2", "--calibrate=false"}
	if err := run(context.Background(), args, func(string) string { return "" }, &out, &errs); err != nil {
		t.Fatalf("run: %v", err)
	}
	if !strings.Contains(out.String(), "first failures of create c=3") || strings.Count(out.String(), "POST 409") != 2 {
		t.Errorf("table:\n%s", out.String())
	}
	// The wrong token stops at setup.
	args = []string{"--url", srv.URL, "--token", "wrong", "--mode", "create", "--n", "1", "--calibrate=false"}
	if err := run(context.Background(), args, func(string) string { return "" }, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("wrong token: %v", err)
	}
}

func TestCommCPU(t *testing.T) {
	comm, err := os.ReadFile("/proc/self/comm")
	if err != nil {
		t.Skip("no /proc")
	}
	name := strings.TrimSpace(string(comm))
	if _, ok := commCPU(name, "")[os.Getpid()]; !ok {
		t.Errorf("own process %q not found", name)
	}
	if _, ok := commCPU(name, "-test.")[os.Getpid()]; !ok {
		t.Errorf("own process not found by its command line")
	}
	if _, ok := commCPU(name, "no such argument")[os.Getpid()]; ok {
		t.Errorf("own process matched a string its command line lacks")
	}
}

func TestParseSwitches(t *testing.T) {
	status := "Name:\tusher\nThreads:\t9\nvoluntary_ctxt_switches:\t120\nnonvoluntary_ctxt_switches:\t7\n"
	if n, err := parseSwitches([]byte(status)); err != nil || n != 127 {
		t.Errorf("parseSwitches = %v, %v; want 127", n, err)
	}
	if _, err := parseSwitches([]byte("Name:\tusher\nvoluntary_ctxt_switches:\t120\n")); err == nil {
		t.Error("a status without the involuntary count was accepted")
	}
	if _, err := parseSwitches([]byte("voluntary_ctxt_switches:\tmany\nnonvoluntary_ctxt_switches:\t7\n")); err == nil {
		t.Error("a count that is not a number was accepted")
	}
}

// writeTasks makes a /proc/<pid>-like folder whose threads have the given
// switch counts; the process's own status file holds only its first
// thread's, as Linux's does.
func writeTasks(t *testing.T, dir string, counts map[int][2]int) {
	t.Helper()
	first := -1
	for tid := range counts {
		if first < 0 || tid < first {
			first = tid
		}
	}
	status := func(c [2]int) []byte {
		return []byte(fmt.Sprintf("Name:\tpostgres\nvoluntary_ctxt_switches:\t%d\nnonvoluntary_ctxt_switches:\t%d\n", c[0], c[1]))
	}
	if err := os.RemoveAll(dir + "/task"); err != nil {
		t.Fatal(err)
	}
	for tid, c := range counts {
		td := fmt.Sprintf("%s/task/%d", dir, tid)
		if err := os.MkdirAll(td, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(td+"/status", status(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(dir+"/status", status(counts[first]), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestReadSwitchesCountsEveryThread(t *testing.T) {
	dir := t.TempDir()
	writeTasks(t, dir, map[int][2]int{100: {10, 1}, 101: {200, 5}, 102: {30, 0}})
	before, err := readSwitches(dir)
	if err != nil {
		t.Fatal(err)
	}
	if n := before.since(nil); n != 246 {
		t.Errorf("all threads' switches = %v, want 246 (the first thread alone has 11)", n)
	}
	// Thread 101 ends, 103 starts, the others switch 7 and 3 more times.
	writeTasks(t, dir, map[int][2]int{100: {15, 3}, 102: {33, 0}, 103: {4, 0}})
	after, err := readSwitches(dir)
	if err != nil {
		t.Fatal(err)
	}
	if n := after.since(before); n != 7+3+4 {
		t.Errorf("switches between the snapshots = %v, want 14", n)
	}
	if err := os.WriteFile(dir+"/task/102/status", []byte("Name:\tpostgres\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := readSwitches(dir); err == nil || !strings.Contains(err.Error(), "task/102/status") {
		t.Errorf("a status without counts: %v, want an error naming it", err)
	}
	if _, err := readSwitches(dir + "/missing"); err == nil {
		t.Error("a process that is gone was read")
	}
}

func TestDBSwitchesSince(t *testing.T) {
	a := cpuSnapshot{
		db:         map[int]float64{1: 5, 2: 9, 3: 1},
		dbSwitches: map[int]threadSwitches{1: {1: 100}, 2: {2: 50}}, // 3's could not be read
	}
	c := cpuSnapshot{
		db:         map[int]float64{1: 6, 2: 10, 3: 2, 4: 0.1},
		dbSwitches: map[int]threadSwitches{1: {1: 110}, 2: {2: 52}, 3: {3: 1_000_000}, 4: {4: 6}},
	}
	// 1 and 2 by their difference, 4 (new) whole, 3 left out: counted from
	// its start it would add a million.
	if n, ok := dbSwitchesSince(c, a); !ok || n != 10+2+6 {
		t.Errorf("dbSwitchesSince = %v, %v; want 18, true", n, ok)
	}
	if _, ok := dbSwitchesSince(cpuSnapshot{}, a); ok {
		t.Error("switches known with no database process read")
	}
}

func TestSwitchesOfThisProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/task"); err != nil {
		t.Skip("no /proc")
	}
	before := cpuProbe{pid: os.Getpid()}.take()
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		for range 20 {
			time.Sleep(time.Millisecond)
		}
		close(done)
	}()
	<-done
	after := cpuProbe{pid: os.Getpid()}.take()
	split := after.since(before, time.Second, 1)
	if !split.ServerSwitchesKnown || !split.ToolSwitchesKnown || split.DBSwitchesKnown {
		t.Fatalf("known: server %v, tool %v, database %v", split.ServerSwitchesKnown, split.ToolSwitchesKnown, split.DBSwitchesKnown)
	}
	// Each sleep of the locked thread is a switch, counted both from /proc
	// (as usher's) and by getrusage (as the load tool's).
	if split.ServerSwitchesPerReq < 20 || split.ToolSwitchesPerReq < 20 {
		t.Errorf("switches across 20 sleeps: %v from /proc, %v from getrusage", split.ServerSwitchesPerReq, split.ToolSwitchesPerReq)
	}
}

func TestParseWriter(t *testing.T) {
	c, err := parseWriter(strings.NewReader("# HELP x\nusher_db_writer_transactions_total 1.5e+06\nusher_db_writer_writes_total 4.2e+06\n" +
		"usher_db_writer_busy_seconds_total 812.25\nusher_db_writer_commit_seconds_total 3\nusher_db_writer_writes_totalx 9\n"))
	if err != nil || c != (writerCounters{transactions: 1.5e6, writes: 4.2e6, busySeconds: 812.25, commitSeconds: 3}) {
		t.Errorf("parseWriter = %+v, %v", c, err)
	}
	if _, err := parseWriter(strings.NewReader("usher_db_writer_transactions_total 1\n")); err == nil {
		t.Error("metrics without most writer counters were accepted (an older server)")
	}
	if _, err := parseWriter(strings.NewReader("usher_db_writer_transactions_total 1\nusher_db_writer_writes_total x\n")); err == nil {
		t.Error("a counter that is not a number was accepted")
	}
	p := writerCounters{transactions: 110, writes: 400, busySeconds: 1.3, commitSeconds: 0.2}.since(writerCounters{transactions: 10, writes: 100, busySeconds: 1, commitSeconds: 0.1}, 0.5)
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	if p.Transactions != 100 || !near(p.WritesPerTransaction, 3) || !near(p.MsPerTransaction, 3) || !near(p.CommitMsPerTransaction, 1) || !near(p.Busy, 0.6) {
		t.Errorf("since = %+v, want 100 transactions of 3 writes, 3 ms each with 1 in COMMIT, busy 0.6", *p)
	}
}

// Command usherload measures a running usher server over HTTP: accounts
// created per second, account lookups by login identifier with a tenant
// filled to a given size, and the server's resident memory and CPU.
// Each phase also reports the CPU and the context switches per request of
// usher (--pid), the database's processes and the load tool itself, and
// what the server's writers did, from its /metrics (writer.go).
//
// It sets up its own tenant with an operator token (a fresh slug, a plan
// with enough seats made the tenant's default plan), then runs its phases:
//
//	create  POST /api/v1/tenants/{t}/accounts at each concurrency level
//	fill    the same, concurrently, until the tenant holds --accounts accounts
//	lookup  GET /api/v1/tenants/{t}/accounts?login=<email> of random existing accounts
//
// --mode signin measures password sign-ins; --mode openid the OpenID
// Connect provider: the token endpoint (client credentials, code
// exchange, refresh with rotation) and userinfo (see openid.go).
// --mode scim does the same through the tenant's SCIM endpoint, with a
// token of role scim it makes: POST /t/{t}/scim/v2/Users of users as Entra
// ID sends them, then GET /t/{t}/scim/v2/Users?filter=userName eq "<email>".
//
// Every run starts with a calibration of the machine, printed above its
// figures (calibrate.go): one argon2id hash with usher's parameters, SHA-256
// over 64 MiB, 10,000 inserts and lookups in an in-memory SQLite, an 8 kB
// write+fdatasync and 4 kB writes without one in --fsync-dir, one system
// call, a loopback round trip, a sort of 8,192 keys (the core probe, which
// every level repeats every 100 ms: speed.go), the CPU model; with --pg-url also
// PostgreSQL's settings, and its WAL, syncs and commits per creation
// (pg.go). --mode calibrate prints only the calibration, with no
// server. scripts/bench runs the whole set on both databases.
//
// Every phase is bounded by a request count (--n, --lookups) and by
// --duration and --timeout; only the loopback address given by --url is
// contacted, without proxies or redirects.
//
//	USHER_TOKEN=ush_... go run ./cmd/usherload --url http://127.0.0.1:8080 \
//	    --mode all --concurrency 1,8,32 --n 5000 --accounts 100000 \
//	    --lookup-concurrency 8 --lookups 50000 --pid $(pgrep -n usher)
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "usherload:", err)
		os.Exit(1)
	}
}

// config is the run's settings, from flags.
type config struct {
	URL         *url.URL
	Token       string
	Mode        string
	SigninUsers int
	Concurrency []int
	LookupConc  []int
	N           int
	Lookups     int
	Duration    time.Duration
	Accounts    int
	FillConc    int
	Seats       int
	PID         int
	Interval    time.Duration
	Timeout     time.Duration
	ReqTimeout  time.Duration
	Slug        string
	Existing    int
	MaxErrors   int
	JSON        bool
	CPUProfile  string
	DBComm      string
	DBMatch     string
	Codes       int
	Calibrate   bool
	FsyncDir    string
	PGURL       string
}

// maxPerLevel bounds a level run by duration only (--n 0).
const maxPerLevel = 1_000_000

// maxSeats is the server's bound on a plan's seats.
const maxSeats = 1_000_000

func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("usherload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rawURL := fs.String("url", "http://127.0.0.1:8080", "base address of the usher server (loopback only)")
	fs.StringVar(&c.Token, "token", "", "operator token (default $USHER_TOKEN)")
	fs.StringVar(&c.Mode, "mode", "all", "create, lookup, all (create levels, then fill, then lookups), scim (all of it through SCIM), signin (password sign-ins and the sign-in page), openid (the OpenID Connect token endpoint and userinfo) or calibrate (only the machine's calibration, no server needed)")
	fs.BoolVar(&c.Calibrate, "calibrate", true, "measure the machine first (one argon2id hash, a SHA-256 loop, SQLite work in memory, an 8 kB fdatasync, 4 kB writes without one, a system call, a loopback round trip, the core probe's sort) and print it with the figures")
	fs.StringVar(&c.FsyncDir, "fsync-dir", "", "folder for the calibration's fsync test: the database's disk (default: the OS's temporary folder)")
	fs.StringVar(&c.PGURL, "pg-url", "", "postgres:// URL of usher's PostgreSQL database: its settings go into the calibration, and WAL, syncs and commits per creation into the report (each creation level then waits 10 s for PostgreSQL's statistics)")
	fs.IntVar(&c.Codes, "codes", 3000, "with --mode openid: at most this many codes per code-exchange level (codes live 60 seconds)")
	fs.IntVar(&c.SigninUsers, "signin-users", 64, "with --mode signin: accounts to sign in as, made active with a password first")
	conc := fs.String("concurrency", "1,8,32", "concurrent clients; a comma list runs one level each")
	lconc := fs.String("lookup-concurrency", "", "concurrency levels of lookups (default: --concurrency)")
	fs.IntVar(&c.N, "n", 5000, "create requests per level; 0 runs each level for --duration (at most 1,000,000 requests)")
	fs.IntVar(&c.Lookups, "lookups", 0, "lookup requests per level (default: --n)")
	fs.DurationVar(&c.Duration, "duration", 0, "stop each level after this long, if --n is not reached first (0: no limit)")
	fs.IntVar(&c.Accounts, "accounts", 100_000, "accounts the tenant holds before lookups (filled with concurrent creates)")
	fs.IntVar(&c.FillConc, "fill-concurrency", 16, "concurrency of the fill")
	fs.IntVar(&c.Seats, "seats", 0, "seats of the load plan (default: enough for every create, at most 1,000,000)")
	fs.IntVar(&c.PID, "pid", 0, "server process id: sample its VmRSS/VmHWM and CPU from /proc")
	pidFile := fs.String("pid-file", "", "file holding the server's process id (instead of --pid)")
	fs.DurationVar(&c.Interval, "sample-interval", 50*time.Millisecond, "how often to sample the server's memory")
	fs.DurationVar(&c.Timeout, "timeout", 30*time.Minute, "give up on the whole run after this long")
	fs.DurationVar(&c.ReqTimeout, "request-timeout", 30*time.Second, "give up on one request after this long")
	fs.StringVar(&c.Slug, "tenant", "", "slug of the tenant to create (default: load-<time>); it must not exist, unless --existing")
	fs.IntVar(&c.Existing, "existing", 0, "with --mode lookup and --tenant: look up in an earlier run's tenant whose accounts u1..uN@load.example exist; no setup, no fill")
	fs.IntVar(&c.MaxErrors, "show-errors", 5, "print the bodies of this many failed answers per phase")
	fs.BoolVar(&c.JSON, "json", false, "write results as JSON to stdout (the table then goes to stderr)")
	fs.StringVar(&c.DBComm, "db-process", "auto", "command name of the database's processes whose CPU to count (auto: postgres when the server uses PostgreSQL; none to count none)")
	fs.StringVar(&c.DBMatch, "db-match", "", "count only database processes whose command line holds this, e.g. the PostgreSQL database name (its checkpointer, background and WAL writers always count)")
	fs.StringVar(&c.CPUProfile, "cpuprofile", "", "write the load tool's own CPU profile to this file")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: usherload [flags]   (measures a running usher server; see go doc ./cmd/usherload)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var err error
	if c.URL, err = checkURL(*rawURL); err != nil {
		return c, err
	}
	if c.Token == "" {
		c.Token = getenv("USHER_TOKEN")
	}
	switch c.Mode {
	case "create", "lookup", "all", "scim", "signin", "openid":
	case "calibrate":
		c.Calibrate = true
		return c, nil
	default:
		return c, fmt.Errorf("--mode must be create, lookup, all, scim, signin, openid or calibrate, not %q", c.Mode)
	}
	if c.Token == "" {
		return c, errors.New("an operator token is needed: --token or USHER_TOKEN")
	}
	if c.Concurrency, err = parseLevels(*conc); err != nil {
		return c, fmt.Errorf("--concurrency: %w", err)
	}
	c.LookupConc = c.Concurrency
	if *lconc != "" {
		if c.LookupConc, err = parseLevels(*lconc); err != nil {
			return c, fmt.Errorf("--lookup-concurrency: %w", err)
		}
	}
	if c.N < 0 || c.Lookups < 0 || c.Accounts < 0 || c.Seats < 0 || c.Duration < 0 {
		return c, errors.New("counts and durations cannot be negative")
	}
	if c.N == 0 && c.Duration == 0 {
		return c, errors.New("give --n, --duration or both")
	}
	if c.N > maxPerLevel || c.Lookups > maxPerLevel*10 {
		return c, fmt.Errorf("--n is at most %d and --lookups at most %d", maxPerLevel, maxPerLevel*10)
	}
	if c.Lookups == 0 {
		c.Lookups = c.N
	}
	if c.Mode == "signin" && (c.SigninUsers < 1 || c.SigninUsers > 10_000) {
		return c, errors.New("--signin-users is 1 to 10,000")
	}
	if c.Mode != "create" && c.Mode != "signin" && c.Mode != "openid" && c.Accounts == 0 {
		return c, errors.New("lookups need accounts to look up: give --accounts")
	}
	if c.Accounts > maxSeats {
		return c, fmt.Errorf("--accounts is at most %d", maxSeats)
	}
	if c.FillConc < 1 || c.FillConc > 1024 {
		return c, errors.New("--fill-concurrency must be between 1 and 1024")
	}
	if c.Interval < time.Millisecond {
		return c, errors.New("--sample-interval must be at least 1ms")
	}
	if *pidFile != "" {
		if c.PID != 0 {
			return c, errors.New("give --pid or --pid-file, not both")
		}
		b, err := os.ReadFile(*pidFile)
		if err != nil {
			return c, err
		}
		if c.PID, err = strconv.Atoi(strings.TrimSpace(string(b))); err != nil {
			return c, fmt.Errorf("--pid-file %s: %w", *pidFile, err)
		}
	}
	if c.PID < 0 {
		return c, errors.New("--pid must be positive")
	}
	if c.Existing > 0 {
		if c.Mode != "lookup" || c.Slug == "" {
			return c, errors.New("--existing needs --mode lookup and the --tenant of an earlier run")
		}
		c.Accounts = c.Existing
	}
	if c.Slug == "" {
		c.Slug = "load-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	return c, nil
}

// checkURL accepts only http(s) addresses of this machine: the tool is for
// measuring a server one runs oneself.
func checkURL(raw string) (*url.URL, error) {
	u, err := url.Parse(strings.TrimSuffix(raw, "/"))
	if err != nil {
		return nil, fmt.Errorf("--url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("--url must be http:// or https://, not %q", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("--url takes a base address without credentials, query or fragment")
	}
	host := u.Hostname()
	ip := net.ParseIP(host)
	if !strings.EqualFold(host, "localhost") && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("--url must name a loopback address (127.0.0.1, ::1 or localhost), not %q", host)
	}
	return u, nil
}

// parseLevels reads "1,8,32".
func parseLevels(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || n > 1024 {
			return nil, fmt.Errorf("%q is not a concurrency between 1 and 1024", f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("give at least one level")
	}
	return out, nil
}

// seatsNeeded is enough seats for every account the run may create.
func (c config) seatsNeeded() int {
	if c.Seats > 0 {
		return c.Seats
	}
	if c.Mode == "signin" {
		return c.SigninUsers
	}
	creates := 0
	if c.Mode != "lookup" {
		per := c.N
		if per == 0 {
			per = 100_000 // duration-only levels: raise with --seats if they go further
		}
		creates = per * len(c.Concurrency)
	}
	total := creates
	if c.Mode != "create" {
		total = max(creates, c.Accounts)
	}
	return min(maxSeats, total+total/100+100)
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()

	table, progress := stdout, stderr
	if cfg.JSON {
		table = stderr
	}
	logf := func(format string, a ...any) { fmt.Fprintf(progress, format+"\n", a...) }

	if cfg.CPUProfile != "" {
		f, err := os.Create(cfg.CPUProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	var pg *pgx.Conn
	if cfg.PGURL != "" {
		if pg, err = pgx.Connect(ctx, cfg.PGURL); err != nil {
			return fmt.Errorf("--pg-url: %w", err)
		}
		defer pg.Close(context.Background())
	}
	var cal *calibration
	if cfg.Calibrate {
		logf("calibrating the machine")
		c, err := calibrate(ctx, calOptions{Dir: cfg.FsyncDir})
		if err != nil {
			return err
		}
		if pg != nil {
			if c.Postgres, err = readPGSettings(ctx, pg); err != nil {
				return fmt.Errorf("--pg-url: %w", err)
			}
		}
		cal = &c
	}
	if cfg.Mode == "calibrate" {
		cal.write(table)
		if cfg.JSON {
			return json.NewEncoder(stdout).Encode(cal)
		}
		return nil
	}

	var mon *monitor
	if cfg.PID > 0 {
		if mon, err = startMonitor(cfg.PID, cfg.Interval); err != nil {
			return err
		}
		defer mon.stop()
	}
	maxConc := max(cfg.FillConc, slicesMax(cfg.Concurrency), slicesMax(cfg.LookupConc))
	api := newAPI(cfg.URL, cfg.Token, maxConc, cfg.ReqTimeout)
	defer api.client.CloseIdleConnections()

	rep := report{Machine: machineInfo(), Calibration: cal, URL: cfg.URL.String(), Tenant: cfg.Slug, Mode: cfg.Mode, PID: cfg.PID, Started: time.Now().UTC()}
	if rep.Database, err = api.ready(ctx); err != nil {
		return err
	}
	if cfg.Existing == 0 {
		seats := cfg.seatsNeeded()
		logf("usherload: %s (%s), tenant %s, plan of %d seats", cfg.URL, rep.Database, cfg.Slug, seats)
		setupStart := time.Now()
		if err := api.setup(ctx, cfg.Slug, seats); err != nil {
			return fmt.Errorf("setting up tenant %s: %w", cfg.Slug, err)
		}
		logf("tenant %s ready in %s", cfg.Slug, time.Since(setupStart).Round(time.Millisecond))
	} else {
		logf("usherload: %s (%s), existing tenant %s with accounts u1..u%d@load.example", cfg.URL, rep.Database, cfg.Slug, cfg.Existing)
	}

	probe := cpuProbe{pid: cfg.PID, dbComm: cfg.DBComm, dbMatch: cfg.DBMatch}
	switch {
	case cfg.DBComm == "none":
		probe.dbComm = ""
	case cfg.DBComm == "auto" && rep.Database == "postgres":
		probe.dbComm = "postgres"
	case cfg.DBComm == "auto":
		probe.dbComm = ""
	}
	l := &loader{api: api, mon: mon, cpu: probe, maxErrors: cfg.MaxErrors, logf: logf}
	if cfg.Existing > 0 {
		// Numbered as the create phases number them; a missing one shows as unexpected.
		l.created = make([]int64, cfg.Existing)
		for i := range l.created {
			l.created[i] = int64(i + 1)
		}
		l.seq.Store(int64(cfg.Existing))
	}
	var pgLast *pgCounters // the counters after the last phase, when it was a counted one
	phase := func(name string, conc, n int, dur time.Duration, mk requestMaker) error {
		counted := pg != nil && (name == "create" || name == "scim-create")
		if counted && pgLast == nil {
			c, err := readPGCounters(ctx, pg)
			if err != nil {
				return fmt.Errorf("--pg-url: %w", err)
			}
			pgLast = &c
		}
		res := l.run(ctx, name, conc, n, dur, mk)
		if counted {
			c, err := readPGCounters(ctx, pg)
			if err != nil {
				return fmt.Errorf("--pg-url: %w", err)
			}
			res.PG = c.since(*pgLast, res.OK)
			pgLast = &c
		} else {
			pgLast = nil
		}
		rep.Results = append(rep.Results, res)
		logf("%s", res.line())
		if mon != nil && mon.gone() {
			return fmt.Errorf("the server (pid %d) is gone", cfg.PID)
		}
		return ctx.Err()
	}

	if cfg.Mode == "openid" {
		return finish(rep, mon, cfg, table, stdout, runOpenID(ctx, cfg, l, phase))
	}
	if cfg.Mode == "signin" {
		logf("making %d accounts with a password to sign in as", cfg.SigninUsers)
		if err := api.signinUsers(ctx, cfg.Slug, cfg.SigninUsers); err != nil {
			return fmt.Errorf("making the sign-in accounts: %w", err)
		}
		rep.Accounts = cfg.SigninUsers
		for _, c := range cfg.Concurrency {
			if err := phase("signin", c, cfg.N, cfg.Duration, l.signin(cfg.Slug, cfg.SigninUsers)); err != nil {
				return finish(rep, mon, cfg, table, stdout, err)
			}
		}
		if err := phase("signin-page", slicesMax(cfg.Concurrency), cfg.Lookups, cfg.Duration, l.signinPage(cfg.Slug)); err != nil {
			return finish(rep, mon, cfg, table, stdout, err)
		}
		return finish(rep, mon, cfg, table, stdout, nil)
	}
	create, lookup, names := l.create, l.lookup, [3]string{"create", "fill", "lookup"}
	if cfg.Mode == "scim" {
		secret, err := api.scimToken(ctx, cfg.Slug)
		if err != nil {
			return fmt.Errorf("making a scim token: %w", err)
		}
		l.scimAuth = "Bearer " + secret
		create, lookup, names = l.scimCreate, l.scimLookup, [3]string{"scim-create", "scim-fill", "scim-lookup"}
	}
	if cfg.Mode != "lookup" {
		for _, c := range cfg.Concurrency {
			n := cfg.N
			if n == 0 {
				n = maxPerLevel
			}
			if err := phase(names[0], c, n, cfg.Duration, create(cfg.Slug)); err != nil {
				return finish(rep, mon, cfg, table, stdout, err)
			}
		}
	}
	if cfg.Mode != "create" {
		// Fill up to --accounts; a few rounds make up for failed creates.
		for round := 0; round < 3 && l.accountCount() < cfg.Accounts; round++ {
			missing := cfg.Accounts - l.accountCount()
			if err := phase(names[1], cfg.FillConc, missing, 0, create(cfg.Slug)); err != nil {
				return finish(rep, mon, cfg, table, stdout, err)
			}
		}
		if l.accountCount() < cfg.Accounts {
			logf("warning: the tenant holds %d accounts, not %d", l.accountCount(), cfg.Accounts)
		}
		rep.Accounts = l.accountCount()
		for _, c := range cfg.LookupConc {
			if err := phase(names[2], c, cfg.Lookups, cfg.Duration, lookup(cfg.Slug)); err != nil {
				return finish(rep, mon, cfg, table, stdout, err)
			}
		}
	}
	rep.Accounts = l.accountCount()
	return finish(rep, mon, cfg, table, stdout, nil)
}

// finish prints what was measured, also when the run stopped early.
func finish(rep report, mon *monitor, cfg config, table, stdout io.Writer, runErr error) error {
	rep.Finished = time.Now().UTC()
	if mon != nil {
		rep.Memory = mon.summary()
	}
	if runErr != nil {
		rep.Error = runErr.Error()
	}
	rep.writeTable(table)
	if cfg.JSON {
		if err := rep.writeJSON(stdout); err != nil {
			return err
		}
	}
	return runErr
}

func slicesMax(s []int) int {
	m := 0
	for _, v := range s {
		m = max(m, v)
	}
	return m
}

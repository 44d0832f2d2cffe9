// Command usher runs the usher server and its operator commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/apitoken"
	"github.com/usherhq/usher/courier"
	"github.com/usherhq/usher/egress"
	"github.com/usherhq/usher/imports"
	"github.com/usherhq/usher/linked"
	"github.com/usherhq/usher/openid"
	"github.com/usherhq/usher/openid/backchannel"
	"github.com/usherhq/usher/openid/keys"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/secret"
	"github.com/usherhq/usher/signin"
	"github.com/usherhq/usher/sso"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/web"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "usher:", err)
		os.Exit(1)
	}
}

const usage = `usher: user management and provisioning

Commands:
  usher serve            run the server (the default)
  usher migrate          apply database migrations and exit
  usher tenant create    create a tenant (--slug, --name, --template)
  usher reseal           seal anew with the current secret key what older keys sealed
  usher version          print the version

Run "usher <command> -h" for a command's flags. Every flag can also be set
by an environment variable: --database-url is USHER_DATABASE_URL, and so on.`

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, args, getenv, stdout, stderr)
	case "migrate":
		cfg, err := parseConfig("migrate", args, getenv, stderr)
		if err != nil {
			return err
		}
		st, err := openStore(ctx, cfg)
		if err != nil {
			return err
		}
		defer st.Close()
		fmt.Fprintf(stdout, "migrations applied (%s)\n", st.Dialect())
		return nil
	case "tenant":
		if len(args) == 0 || args[0] != "create" {
			return errors.New(`usage: usher tenant create --slug acme --name "Acme" [--template standard|frontline]`)
		}
		return tenantCreate(ctx, args[1:], getenv, stdout, stderr)
	case "reseal":
		return reseal(ctx, args, getenv, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "usher", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	return fmt.Errorf("unknown command %q\n\n%s", cmd, usage)
}

// config is the deployment's settings, from flags and USHER_* variables.
type config struct {
	Addr           string
	Data           string
	DatabaseURL    string
	BaseDomain     string
	PublicURL      string
	BootstrapToken string
	Demo           bool
	LogFormat      string
	SecretKeyFile  string
	ImportMaxMB    int
	// ImportLease: how long an import job stays a replica's without its
	// renewal, so how soon another replica takes over after a crash.
	ImportLease time.Duration
	// ImportRetention: how long a finished import's file is kept.
	ImportRetention time.Duration
	// KeyRotation and KeyLead: the OpenID provider's signing keys.
	KeyRotation, KeyLead time.Duration
	// AllowPrivate lets tenants' identity providers and external systems be
	// at private addresses (a local identity provider in development).
	AllowPrivate bool
	// CPUProfile is where serve writes a CPU profile of its whole run.
	CPUProfile string
}

func parseConfig(name string, args []string, getenv func(string) string, stderr io.Writer, extra ...func(*flag.FlagSet)) (config, error) {
	var c config
	fs := flag.NewFlagSet("usher "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := func(key, def string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return def
	}
	fs.StringVar(&c.Addr, "addr", env("USHER_ADDR", "localhost:8080"), "address to listen on (USHER_ADDR)")
	fs.StringVar(&c.Data, "data", env("USHER_DATA", "data"), "data folder for the embedded SQLite database (USHER_DATA)")
	fs.StringVar(&c.DatabaseURL, "database-url", env("USHER_DATABASE_URL", ""), "postgres:// URL; empty uses SQLite in the data folder (USHER_DATABASE_URL)")
	fs.StringVar(&c.BaseDomain, "base-domain", env("USHER_BASE_DOMAIN", ""), "tenants are reached at <slug>.<base domain> (USHER_BASE_DOMAIN)")
	fs.StringVar(&c.PublicURL, "public-url", env("USHER_PUBLIC_URL", ""), "public address without a base domain, default http://<addr> (USHER_PUBLIC_URL)")
	fs.StringVar(&c.LogFormat, "log-format", env("USHER_LOG_FORMAT", "text"), "text or json (USHER_LOG_FORMAT)")
	fs.StringVar(&c.SecretKeyFile, "secret-key-file", env("USHER_SECRET_KEY_FILE", ""), "file holding the key that seals secrets kept in the database; default <data>/secret.key with SQLite (USHER_SECRET_KEY_FILE; or the key itself in USHER_SECRET_KEY)")
	importMB, err := strconv.Atoi(env("USHER_IMPORT_MAX_MB", "50"))
	if err != nil {
		return c, fmt.Errorf("USHER_IMPORT_MAX_MB: %q is not a number of megabytes", getenv("USHER_IMPORT_MAX_MB"))
	}
	fs.IntVar(&c.ImportMaxMB, "import-max-mb", importMB, "largest import file accepted, in MB (USHER_IMPORT_MAX_MB)")
	fs.StringVar(&c.CPUProfile, "cpu-profile", env("USHER_CPU_PROFILE", ""), "write a CPU profile of the server's run to this file, for go tool pprof (USHER_CPU_PROFILE)")
	for _, d := range []struct {
		dst        *time.Duration
		flag, env  string
		def, usage string
	}{
		{&c.KeyRotation, "openid-key-rotation", "USHER_OPENID_KEY_ROTATION", "2160h", "how long an OpenID signing key signs before its successor (USHER_OPENID_KEY_ROTATION)"},
		{&c.KeyLead, "openid-key-lead", "USHER_OPENID_KEY_LEAD", "1h", "how long a new signing key is published before it signs (USHER_OPENID_KEY_LEAD)"},
		{&c.ImportLease, "import-lease", "USHER_IMPORT_LEASE", "1m", "how long an import stays a replica's without renewal: another replica takes over a crashed one's this long after (USHER_IMPORT_LEASE)"},
		{&c.ImportRetention, "import-retention", "USHER_IMPORT_RETENTION", "720h", "how long the file of a finished import is kept for its report; the rows' results stay after (USHER_IMPORT_RETENTION)"},
	} {
		v, err := time.ParseDuration(env(d.env, d.def))
		if err != nil {
			return c, fmt.Errorf("%s: %q is not a duration (like 2160h)", d.env, getenv(d.env))
		}
		fs.DurationVar(d.dst, d.flag, v, d.usage)
	}
	demoDefault := getenv("USHER_DATABASE_URL") == ""
	if v := getenv("USHER_DEMO"); v != "" {
		demoDefault = v == "true" || v == "1"
	}
	fs.BoolVar(&c.Demo, "demo", demoDefault, "create the demo tenant if absent (USHER_DEMO; on by default with SQLite)")
	privateDefault := getenv("USHER_DATABASE_URL") == ""
	if v := getenv("USHER_ALLOW_PRIVATE_ADDRESSES"); v != "" {
		privateDefault = v == "true" || v == "1"
	}
	fs.BoolVar(&c.AllowPrivate, "allow-private-addresses", privateDefault,
		"let tenants' identity providers and external systems be at loopback or private addresses (USHER_ALLOW_PRIVATE_ADDRESSES; on by default with SQLite, off with PostgreSQL)")
	for _, f := range extra {
		f(fs)
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	// Only from the environment: a secret on the command line shows in ps.
	c.BootstrapToken = getenv("USHER_BOOTSTRAP_OPERATOR_TOKEN")
	if c.ImportMaxMB < 1 || c.ImportMaxMB > 4096 {
		return c, fmt.Errorf("--import-max-mb: %d is not between 1 and 4096", c.ImportMaxMB)
	}
	if c.ImportRetention < time.Hour {
		return c, fmt.Errorf("--import-retention: %s is less than an hour: a report needs its file for longer", c.ImportRetention)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return c, fmt.Errorf("--log-format must be text or json, not %q", c.LogFormat)
	}
	return c, nil
}

func openStore(ctx context.Context, c config) (*store.Store, error) {
	dsn := c.DatabaseURL
	if dsn == "" {
		dsn = filepath.Join(c.Data, "usher.db")
	} else if !strings.HasPrefix(dsn, "postgres://") && !strings.HasPrefix(dsn, "postgresql://") {
		return nil, fmt.Errorf("USHER_DATABASE_URL must be a postgres:// URL (leave it empty for the embedded SQLite database)")
	}
	return store.Open(ctx, dsn, nil)
}

// secretBox is the box that seals secrets kept in the database (signing
// keys, identity providers' client secrets). Its key comes from
// USHER_SECRET_KEY or --secret-key-file; USHER_PREVIOUS_SECRET_KEYS (comma
// separated) still opens what older keys sealed. The embedded default keeps
// a generated key in its data folder; PostgreSQL, shared by replicas, needs
// the same key configured on each.
func secretBox(c config, getenv func(string) string) (*secret.Box, error) {
	var key []byte
	var err error
	switch {
	case getenv("USHER_SECRET_KEY") != "":
		if key, err = secret.ParseKey(getenv("USHER_SECRET_KEY")); err != nil {
			return nil, fmt.Errorf("USHER_SECRET_KEY: %w", err)
		}
	case c.SecretKeyFile != "":
		b, err := os.ReadFile(c.SecretKeyFile)
		if err != nil {
			return nil, fmt.Errorf("--secret-key-file: %w", err)
		}
		if key, err = secret.ParseKey(string(b)); err != nil {
			return nil, fmt.Errorf("--secret-key-file %s: %w", c.SecretKeyFile, err)
		}
	case c.DatabaseURL == "":
		if key, err = secret.LoadOrCreateKey(filepath.Join(c.Data, "secret.key")); err != nil {
			return nil, err
		}
	default:
		return nil, errors.New("with PostgreSQL, set USHER_SECRET_KEY (or --secret-key-file) to the same key on every replica: it seals the secrets kept in the database (generate one with: openssl rand -base64 32)")
	}
	keys := [][]byte{key}
	for i, s := range strings.Split(getenv("USHER_PREVIOUS_SECRET_KEYS"), ",") {
		if strings.TrimSpace(s) == "" {
			continue
		}
		k, err := secret.ParseKey(s)
		if err != nil {
			return nil, fmt.Errorf("USHER_PREVIOUS_SECRET_KEYS, key %d: %w", i+1, err)
		}
		keys = append(keys, k)
	}
	return secret.NewBox(keys...)
}

// resealers seal anew with the current key what older keys sealed, each in
// the tables of its package.
var resealers = []struct {
	name string
	run  func(context.Context, *store.Store, *secret.Box) (int, error)
}{{"provision", provision.Reseal}, {"openid", keys.Reseal}, {"linked", linked.Reseal}}

// resealAll runs every resealer, telling each one's outcome to report; it
// returns the first failure after running them all.
func resealAll(ctx context.Context, st *store.Store, box *secret.Box, report func(name string, n int, err error)) error {
	var first error
	for _, r := range resealers {
		n, err := r.run(ctx, st, box)
		report(r.name, n, err)
		if err != nil && first == nil {
			first = fmt.Errorf("%s: %w", r.name, err)
		}
	}
	return first
}

// reseal is usher reseal: after a key rotation, it seals anew with the
// current key every secret sealed with a previous one and prints how many
// each package changed. When a run reports 0 everywhere, the previous keys
// can be dropped from USHER_PREVIOUS_SECRET_KEYS.
func reseal(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, err := parseConfig("reseal", args, getenv, stderr)
	if err != nil {
		return err
	}
	box, err := secretBox(c, getenv)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	defer st.Close()
	total := 0
	err = resealAll(ctx, st, box, func(name string, n int, err error) {
		total += n
		if err != nil {
			fmt.Fprintf(stdout, "%s: %d re-sealed; %v\n", name, n, err)
			return
		}
		fmt.Fprintf(stdout, "%s: %d re-sealed\n", name, n)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d re-sealed with key %s\n", total, box.KeyID())
	return nil
}

func newLogger(c config, w io.Writer) *slog.Logger {
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}

// defaultMemoryLimit is the Go runtime's soft memory limit unless
// GOMEMLIMIT says otherwise.
const defaultMemoryLimit = 64 << 20

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, err := parseConfig("serve", args, getenv, stderr)
	if err != nil {
		return err
	}
	log := newLogger(c, stderr)
	if c.CPUProfile != "" {
		// Where the time of a load test goes (BENCHMARKS.md), written when
		// the server stops.
		f, err := os.Create(c.CPUProfile)
		if err != nil {
			return fmt.Errorf("cpu profile: %w", err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return fmt.Errorf("cpu profile: %w", err)
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	// zitadel/oidc logs only to slog's default logger (its WithLogger
	// option does nothing): its lines take usher's format and output while
	// serve runs.
	prev := slog.Default()
	slog.SetDefault(log)
	defer slog.SetDefault(prev)
	if getenv("GOMEMLIMIT") == "" {
		// A ceiling on the memory the runtime keeps from the system. Each
		// password hash allocates its 7 MiB work area afresh, at most one
		// per core at a time; under sign-in load the collector's pacing
		// alone keeps the heap near 40 MB, below the limit, and the limit
		// bounds what bursts of other work leave behind (BENCHMARKS.md).
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	box, err := secretBox(c, getenv)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	defer st.Close()
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	addr := shownAddr(c.Addr, ln.Addr())
	if c.PublicURL == "" {
		c.PublicURL = "http://" + addr
	}
	// Where people and operators find usher: the printed lines agree with
	// the links in messages and QR codes.
	public := strings.TrimSuffix(c.PublicURL, "/")
	if c.BaseDomain != "" {
		public = "https://" + c.BaseDomain
	}
	links := web.Links{BaseDomain: c.BaseDomain, PublicURL: c.PublicURL}
	svc := provision.New(st, nil, links)
	svc.SealWith(box)
	// Corporate SSO: OpenID Connect and SAML connections sign people in.
	// Addresses tenants configure are fetched by a client that keeps out of
	// usher's own network unless the operator allows it.
	outbound := egress.Client(c.AllowPrivate, 20*time.Second)
	ssoSvc := sso.New(st, box, links.TenantBase, time.Now, outbound)
	svc.CheckConnectionsWith(ssoSvc.Prepare)

	// Delivery: with nothing configured, messages stay queued and readable
	// through the API; each configured channel is delivered by the worker.
	delivery, err := courier.SettingsFromEnv(getenv).Config()
	if err != nil {
		return fmt.Errorf("message delivery: %w", err)
	}
	defer delivery.Close()
	svc.HideSecretsSentBy(func(channel string) bool { return delivery.Sender(channel) != nil })
	compose := func(ctx context.Context, m usher.Message) (usher.Message, error) {
		m, err := svc.Compose(ctx, m)
		if errors.Is(err, provision.ErrUnwritable) {
			err = courier.Permanent(err)
		}
		return m, err
	}
	worker := courier.NewWorker(st, delivery, courier.Options{Log: log, Compose: compose})
	svc.NotifyQueued(worker.Wake)
	workerCtx, stopWorker := context.WithCancel(context.WithoutCancel(ctx))
	workerDone := make(chan struct{})
	go func() { worker.Run(workerCtx); close(workerDone) }()
	defer func() { stopWorker(); <-workerDone }()

	// After a key rotation, what older keys sealed is sealed anew with the
	// current key, in the background: those keys open it meanwhile.
	if strings.TrimSpace(getenv("USHER_PREVIOUS_SECRET_KEYS")) != "" {
		resealDone := make(chan struct{})
		go func() {
			defer close(resealDone)
			resealAll(workerCtx, st, box, func(name string, n int, err error) {
				if err != nil {
					log.Error("re-sealing secrets with the current key", "package", name, "resealed", n, "err", err)
					return
				}
				log.Info("re-sealed secrets with the current key", "package", name, "resealed", n)
			})
		}()
		defer func() { stopWorker(); <-resealDone }()
	}

	// Linked external accounts (calendars): tokens sealed with the box,
	// refreshed by a worker per replica (leased through the database); the
	// people's messages are provision's.
	linkedSvc := linked.New(linked.Deps{Store: st, Box: box, Base: links.TenantBase, Log: log, Client: outbound, Messages: linked.MessagesOf(svc)})
	// A deactivated account's links end with it.
	svc.OnAccountEnded(linkedSvc.AccountEnded)
	linkedDone := make(chan struct{})
	go func() { linked.NewWorker(linkedSvc, linked.WorkerOptions{}).Run(workerCtx); close(linkedDone) }()
	defer func() { stopWorker(); <-linkedDone }()

	// Imports run as jobs, a worker per replica leasing them through the
	// database: a replica that dies leaves its job to another.
	importer := imports.New(st, svc)
	importer.Limits = importer.Limits.With(imports.Limits{MaxBytes: int64(c.ImportMaxMB) << 20})
	importsDone := make(chan struct{})
	go func() {
		imports.NewWorker(importer, imports.WorkerOptions{Lease: c.ImportLease, Retention: c.ImportRetention, Log: log}).Run(workerCtx)
		close(importsDone)
	}()
	defer func() { stopWorker(); <-importsDone }()

	token := c.BootstrapToken
	generated := false
	if token == "" && c.Demo {
		// A newcomer gets a working operator token at every start; it replaces the last one.
		_, token = secret.New()
		token = "ush_" + token
		generated = true
	}
	bootToken := ""
	switch {
	case generated:
		bootToken = "printed"
	case token != "":
		bootToken = "environment"
	}
	if token != "" {
		if err := apitoken.New(st, time.Now).EnsureBootstrapToken(ctx, token); err != nil {
			return err
		}
	}
	demoWay := ""
	if c.Demo {
		if err := seedDemo(ctx, svc, st); err != nil {
			return fmt.Errorf("demo tenant: %w", err)
		}
		if demoWay, err = demoWayIn(ctx, svc, st); err != nil {
			log.Warn("no way into the demo console", "err", err)
		}
	}

	// Sessions and the throttles of every password check.
	auth := signin.New(st, svc, time.Now)
	// The OpenID Connect provider, one issuer per tenant.
	// The guarded client reads the keys products publish at a jwks_uri and
	// sends logout tokens to their back-channel logout URIs.
	oid, err := newOpenID(log, st, box, links, svc, auth, openid.Config{KeyRotation: c.KeyRotation, KeyLead: c.KeyLead}, outbound)
	if err != nil {
		return err
	}
	go oid.RunSweeper(workerCtx, time.Minute)
	logoutsDone := make(chan struct{})
	go func() {
		backchannel.NewLogoutWorker(oid.BackChannel(), backchannel.LogoutWorkerOptions{}).Run(workerCtx)
		close(logoutsDone)
	}()
	defer func() { stopWorker(); <-logoutsDone }()
	var demoRP usher.Client
	demoRPSecret := ""
	if c.Demo {
		if demoRP, demoRPSecret, err = demoClient(ctx, oid, st); err != nil {
			log.Warn("no demo client for the example product", "err", err)
		}
	}
	srv := &http.Server{
		Handler: web.New(log, web.Config{Version: version, Links: links, Channels: delivery.Channels(), OperatorToken: bootToken, Home: demoHome(c), OpenID: oid, SSO: ssoSvc,
			ImportLimits: imports.Limits{MaxBytes: int64(c.ImportMaxMB) << 20}, Linked: linkedSvc}, st, svc, auth, nil),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	fmt.Fprintf(stdout, "usher %s listening on http://%s (database: %s)\n", version, addr, st.Dialect())
	if len(delivery.Channels()) == 0 {
		fmt.Fprintln(stdout, "messages: no email or SMS provider is configured; they are kept for reading in the console (Messages)")
	} else {
		fmt.Fprintf(stdout, "message delivery: %s\n", delivery)
	}
	if c.Demo {
		demo := links.TenantBase(usher.Tenant{Slug: "demo"})
		fmt.Fprintf(stdout, "demo tenant: %s (sign in or register there)\n", demo)
		if demoWay != "" {
			fmt.Fprintf(stdout, "console: %sadmin/ — sign in as %s %s\n", demo, demoAdmin, demoWay)
		}
		if demoRPSecret != "" {
			fmt.Fprintf(stdout, "sign a product's users in through usher (OpenID Connect issuer %s/t/demo):\n", strings.TrimSuffix(c.PublicURL, "/"))
			fmt.Fprintf(stdout, "  go run ./examples/relyingparty --issuer %s/t/demo --client-id %s --client-secret %s\n", strings.TrimSuffix(c.PublicURL, "/"), demoRP.ID, demoRPSecret)
			fmt.Fprintf(stdout, "  then open http://%s/ and sign in as %s\n", demoRPAddr, demoAdmin)
		}
	}
	if generated {
		fmt.Fprintf(stdout, "operator token for this run (set USHER_BOOTSTRAP_OPERATOR_TOKEN to fix one):\n  %s\n", token)
		fmt.Fprintf(stdout, "operators' console: %s/operator/ (sign in with this token)\n", public)
		fmt.Fprintf(stdout, "try: curl -H 'Authorization: Bearer %s' %s/api/v1/tenants/demo/accounts\n", token, public)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	log.Info("shutting down")
	return srv.Shutdown(shutdown)
}

// shownAddr is the address to print and put into links: the host as
// configured ("localhost", as the README shows) with the port actually
// bound, so --addr :0 works too; a wildcard host is shown as localhost.
func shownAddr(configured string, bound net.Addr) string {
	host, _, err := net.SplitHostPort(configured)
	_, port, perr := net.SplitHostPort(bound.String())
	if err != nil || perr != nil {
		return bound.String()
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}

func tenantCreate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var in provision.TenantInput
	c, err := parseConfig("tenant create", args, getenv, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&in.Slug, "slug", "", "the tenant's slug: <slug>.<base domain>")
		fs.StringVar(&in.Name, "name", "", "the tenant's name")
		fs.StringVar(&in.Template, "template", usher.TemplateStandard, "standard, or frontline (which also requires job profile, department, role and language)")
	})
	if err != nil {
		return err
	}
	st, err := openStore(ctx, c)
	if err != nil {
		return err
	}
	defer st.Close()
	if c.PublicURL == "" {
		c.PublicURL = "http://" + c.Addr
	}
	svc := provision.New(st, nil, web.Links{BaseDomain: c.BaseDomain, PublicURL: c.PublicURL})
	t, err := svc.CreateTenant(ctx, usher.Actor{Kind: usher.ActorOperator, ID: "cli", Role: usher.PrincipalOperator}, in)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created tenant %s (%s), id %s\n", t.Slug, t.Name, t.ID)
	return nil
}

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// TestServe runs the real program on port 0 with a fresh data folder, as a
// newcomer would, and uses the token it prints.
func TestServe(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	data := t.TempDir()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--data", data}, func(string) string { return "" }, pw, io.Discard)
		pw.Close()
	}()
	var addr, token string
	sc := bufio.NewScanner(pr)
	deadline := time.After(30 * time.Second)
	lines := make(chan string)
	go func() {
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	for addr == "" || token == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("usher stopped before printing its address and token: %v", <-done)
			}
			if m := regexp.MustCompile(`listening on http://(\S+)`).FindStringSubmatch(l); m != nil {
				addr = m[1]
			}
			if m := regexp.MustCompile(`^\s+(ush_\S+)$`).FindStringSubmatch(l); m != nil {
				token = m[1]
			}
		case <-deadline:
			t.Fatal("usher did not start within 30s")
		}
	}
	go func() {
		for range lines {
		}
	}()
	get := func(path, tok string) (int, map[string]any) {
		req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	if code, _ := get("/healthz", ""); code != 200 {
		t.Fatalf("healthz: %d", code)
	}
	if code, body := get("/readyz", ""); code != 200 || body["database"] != "sqlite" {
		t.Fatalf("readyz: %d %v", code, body)
	}
	code, body := get("/api/v1/tenants/demo/accounts?admin_role=tenant_administrator", token)
	if code != 200 {
		t.Fatalf("demo accounts: %d %v", code, body)
	}
	items, _ := body["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["email"] != "ada@demo.example" {
		t.Fatalf("the demo tenant's administrator: %v", body)
	}
	if code, _ := get("/api/v1/tenants", "wrong"); code != 401 {
		t.Fatalf("wrong token: %d", code)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("usher did not shut down")
	}

	// A second start keeps the data and does not seed the demo tenant twice.
	var out strings.Builder
	if err := run(context.Background(), []string{"tenant", "create", "--data", data, "--slug", "acme", "--name", "Acme", "--template", "frontline"},
		func(string) string { return "" }, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "created tenant acme") {
		t.Fatalf("tenant create printed %q", out.String())
	}
	err := run(context.Background(), []string{"tenant", "create", "--data", data, "--slug", "acme", "--name", "Acme"}, func(string) string { return "" }, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("duplicate tenant: %v", err)
	}
}

func TestCommands(t *testing.T) {
	env := func(string) string { return "" }
	var out strings.Builder
	if err := run(context.Background(), []string{"version"}, env, &out, io.Discard); err != nil || !strings.HasPrefix(out.String(), "usher ") {
		t.Fatalf("version: %q %v", out.String(), err)
	}
	out.Reset()
	data := filepath.Join(t.TempDir(), "d")
	if err := run(context.Background(), []string{"migrate", "--data", data}, env, &out, io.Discard); err != nil || !strings.Contains(out.String(), "sqlite") {
		t.Fatalf("migrate: %q %v", out.String(), err)
	}
	out.Reset()
	if err := run(context.Background(), []string{"reseal", "--data", data}, env, &out, io.Discard); err != nil ||
		!strings.Contains(out.String(), "provision: 0 re-sealed\nopenid: 0 re-sealed\nlinked: 0 re-sealed\n0 re-sealed with key ") {
		t.Fatalf("reseal: %q %v", out.String(), err)
	}
	if err := run(context.Background(), []string{"frobnicate"}, env, io.Discard, io.Discard); err == nil {
		t.Fatal("an unknown command must fail")
	}
	bad := func(k string) string {
		if k == "USHER_DATABASE_URL" {
			return "mysql://nope"
		}
		return ""
	}
	if err := run(context.Background(), []string{"migrate"}, bad, io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "postgres://") {
		t.Fatalf("a non-postgres URL must be refused clearly: %v", err)
	}
	if err := run(context.Background(), []string{"serve", "--log-format", "xml", "--data", data}, env, io.Discard, io.Discard); err == nil {
		t.Fatal("a bad log format must be refused")
	}
}

// TestDeliveryBySMTP runs usher with USHER_SMTP_URL pointing at an SMTP
// server inside the test: an account created through the API gets its
// invitation by mail, once, and the message shows as sent.
func TestDeliveryBySMTP(t *testing.T) {
	box := startSMTP(t)
	env := map[string]string{
		"USHER_SMTP_URL":                 "smtp+insecure://" + box.addr + "?from=usher@demo.example",
		"USHER_BOOTSTRAP_OPERATOR_TOKEN": "a-bootstrap-token-for-tests",
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--data", t.TempDir()}, func(k string) string { return env[k] }, pw, io.Discard)
		pw.Close()
	}()
	sc := bufio.NewScanner(pr)
	var addr string
	for addr == "" && sc.Scan() {
		if m := regexp.MustCompile(`listening on http://(\S+)`).FindStringSubmatch(sc.Text()); m != nil {
			addr = m[1]
		}
	}
	go io.Copy(io.Discard, pr)
	if addr == "" {
		t.Fatalf("usher did not start: %v", <-done)
	}
	body := strings.NewReader(`{"first_name":"Grace","last_name":"Hopper","email":"grace@demo.example"}`)
	req, _ := http.NewRequest("POST", "http://"+addr+"/api/v1/tenants/demo/accounts", body)
	req.Header.Set("Authorization", "Bearer a-bootstrap-token-for-tests")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d", resp.StatusCode)
	}
	// Grace's invitation only: the demo's administrator gets in with the
	// printed one-time password, and no invitation is made for her.
	byTo := func() map[string][]mail {
		m := map[string][]mail{}
		for _, x := range box.received() {
			m[x.to] = append(m[x.to], x)
		}
		return m
	}
	deadline := time.Now().Add(20 * time.Second)
	for len(byTo()["grace@demo.example"]) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	got := byTo()["grace@demo.example"]
	if len(got) != 1 || !strings.Contains(got[0].data, "http://"+addr+"/t/demo/activate/") ||
		!strings.Contains(got[0].data, "Subject: You're invited to Demo Company") {
		t.Fatalf("mail received: %+v", got)
	}
	// The outbox says sent, and nothing else arrives.
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest("GET", "http://"+addr+"/api/v1/tenants/demo/messages?state=sent", nil)
		req.Header.Set("Authorization", "Bearer a-bootstrap-token-for-tests")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var page struct{ Items []map[string]any }
		json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if len(page.Items) == 1 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	for to, ms := range byTo() {
		if len(ms) != 1 {
			t.Fatalf("%d mails to %s, want exactly 1", len(ms), to)
		}
	}
	if n := len(box.received()); n != 1 {
		t.Fatalf("%d mails, want 1", n)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

type mailbox struct {
	addr string
	mu   sync.Mutex
	msgs []mail
}

type mail struct{ from, to, data string }

func (m *mailbox) received() []mail {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]mail(nil), m.msgs...)
}

func startSMTP(t *testing.T) *mailbox {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	box := &mailbox{addr: ln.Addr().String()}
	s := smtp.NewServer(smtpBackend{box})
	s.Domain = "localhost"
	s.AllowInsecureAuth = true
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return box
}

type smtpBackend struct{ box *mailbox }

func (b smtpBackend) NewSession(*smtp.Conn) (smtp.Session, error) {
	return &smtpSession{box: b.box}, nil
}

type smtpSession struct {
	box      *mailbox
	from, to string
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error { s.from = from; return nil }
func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error   { s.to = to; return nil }
func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.box.mu.Lock()
	s.box.msgs = append(s.box.msgs, mail{s.from, s.to, string(b)})
	s.box.mu.Unlock()
	return nil
}
func (s *smtpSession) Reset()        {}
func (s *smtpSession) Logout() error { return nil }

// TestSecretKey: the embedded default keeps a generated key in its data
// folder; PostgreSQL, shared by replicas, refuses to start without one.
func TestSecretKey(t *testing.T) {
	none := func(string) string { return "" }
	dir := t.TempDir()
	b1, err := secretBox(config{Data: dir}, none)
	if err != nil {
		t.Fatal(err)
	}
	b2, err := secretBox(config{Data: dir}, none)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := b2.Open(b1.Seal([]byte("x"), "p"), "p"); err != nil || string(p) != "x" {
		t.Fatalf("the key changed between two starts: %v", err)
	}
	if _, err := secretBox(config{Data: dir, DatabaseURL: "postgres://x"}, none); err == nil || !strings.Contains(err.Error(), "USHER_SECRET_KEY") {
		t.Fatalf("PostgreSQL without a key: %v", err)
	}
	env := map[string]string{"USHER_SECRET_KEY": "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=", "USHER_PREVIOUS_SECRET_KEYS": " , not a key"}
	if _, err := secretBox(config{DatabaseURL: "postgres://x"}, func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "USHER_PREVIOUS_SECRET_KEYS") {
		t.Fatalf("a bad previous key: %v", err)
	}
	env["USHER_PREVIOUS_SECRET_KEYS"] = ""
	if _, err := secretBox(config{DatabaseURL: "postgres://x"}, func(k string) string { return env[k] }); err != nil {
		t.Fatalf("PostgreSQL with a key: %v", err)
	}
}

// startUsher runs usher serve on data with env until ctx ends, and returns
// its start-up lines (up to the curl example) and the end of the run.
func startUsher(t *testing.T, ctx context.Context, data string, env map[string]string) ([]string, chan error) {
	t.Helper()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "localhost:0", "--data", data}, func(k string) string { return env[k] }, pw, io.Discard)
		pw.Close()
	}()
	var out []string
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		out = append(out, sc.Text())
		if strings.HasPrefix(sc.Text(), "try: ") {
			break
		}
	}
	go io.Copy(io.Discard, pr)
	return out, done
}

// TestStartupLines: what usher prints at start agrees with the README and
// with the links it makes (localhost, as configured), and the demo's
// administrator is given a one-time password only until she has chosen a
// password of her own.
func TestStartupLines(t *testing.T) {
	data := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	lines, done := startUsher(t, ctx, data, nil)
	all := strings.Join(lines, "\n")
	m := regexp.MustCompile(`^usher \S+ listening on http://localhost:(\d+) \(database: sqlite\)$`).FindStringSubmatch(lines[0])
	if m == nil {
		t.Fatalf("the first line: %q", lines[0])
	}
	base := "http://localhost:" + m[1]
	want := []string{
		"messages: no email or SMS provider is configured; they are kept for reading in the console (Messages)",
		"demo tenant: " + base + "/t/demo/ (sign in or register there)",
		"operator token for this run (set USHER_BOOTSTRAP_OPERATOR_TOKEN to fix one):",
		"operators' console: " + base + "/operator/ (sign in with this token)",
	}
	for _, w := range want {
		if !strings.Contains(all, w+"\n") {
			t.Errorf("no line %q in:\n%s", w, all)
		}
	}
	if strings.Contains(all, "127.0.0.1") {
		t.Errorf("the start-up lines name 127.0.0.1, not the configured localhost:\n%s", all)
	}
	otp := regexp.MustCompile(`(?m)^console: ` + regexp.QuoteMeta(base) + `/t/demo/admin/ — sign in as ada@demo\.example with the one-time password (\S+)$`).FindStringSubmatch(all)
	if otp == nil {
		t.Fatalf("no one-time password for the demo's administrator:\n%s", all)
	}
	tok := regexp.MustCompile(`(?m)^  (ush_\S+)$`).FindStringSubmatch(all)
	if tok == nil || !strings.Contains(all, "try: curl -H 'Authorization: Bearer "+tok[1]+"' "+base+"/api/v1/tenants/demo/accounts") {
		t.Fatalf("no operator token and curl example:\n%s", all)
	}
	// The messages' links carry the same address; the administrator has no
	// invitation (her way in is the one-time password).
	req, _ := http.NewRequest("GET", base+"/api/v1/tenants/demo/messages", nil)
	req.Header.Set("Authorization", "Bearer "+tok[1])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var msgs struct{ Items []map[string]any }
	json.NewDecoder(resp.Body).Decode(&msgs)
	resp.Body.Close()
	if len(msgs.Items) != 0 {
		t.Fatalf("messages after the first start, want none: %v", msgs.Items)
	}
	// She signs in with it and chooses her own password.
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar}
	form := func(path string, kv ...string) string {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		resp, err := browser.PostForm(base+path, v)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if p := form("/t/demo/signin/password", "identifier", "ada@demo.example", "password", otp[1]); !strings.Contains(p, "Choose your own password") {
		t.Fatalf("signing in with the printed one-time password:\n%s", p)
	}
	if p := form("/t/demo/signin/choose", "identifier", "ada@demo.example", "one_time", otp[1], "password", "adas own passphrase", "confirm", "adas own passphrase"); !strings.Contains(p, "Your account") {
		t.Fatalf("choosing her own password:\n%s", p)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	// The next start gives her no one-time password: her own still works.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	lines, done = startUsher(t, ctx, data, nil)
	all = strings.Join(lines, "\n")
	if strings.Contains(all, "one-time password") ||
		!regexp.MustCompile(`(?m)^console: http://localhost:\d+/t/demo/admin/ — sign in as ada@demo\.example with the password chosen at the first sign-in$`).MatchString(all) {
		t.Fatalf("the second start's lines:\n%s", all)
	}
	base = regexp.MustCompile(`http://localhost:\d+`).FindString(lines[0])
	browser.Jar, _ = cookiejar.New(nil) // another browser, not signed in
	if p := form("/t/demo/signin/password", "identifier", "ada@demo.example", "password", "adas own passphrase"); !strings.Contains(p, "Your account") {
		t.Fatalf("her own password after a restart:\n%s", p)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestImportLimitSetting: the import's file size limit comes from the flag
// or USHER_IMPORT_MAX_MB, within bounds, with a clear refusal otherwise.
func TestImportLimitSetting(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	var errs strings.Builder
	c, err := parseConfig("serve", nil, env(), &errs)
	if err != nil || c.ImportMaxMB != 50 {
		t.Fatalf("default: %d %v", c.ImportMaxMB, err)
	}
	if c, err = parseConfig("serve", nil, env("USHER_IMPORT_MAX_MB", "200"), &errs); err != nil || c.ImportMaxMB != 200 {
		t.Fatalf("from the environment: %d %v", c.ImportMaxMB, err)
	}
	if c, err = parseConfig("serve", []string{"--import-max-mb", "5"}, env("USHER_IMPORT_MAX_MB", "200"), &errs); err != nil || c.ImportMaxMB != 5 {
		t.Fatalf("the flag first: %d %v", c.ImportMaxMB, err)
	}
	if _, err := parseConfig("serve", nil, env("USHER_OPENID_KEY_ROTATION", "soon"), &errs); err == nil || !strings.Contains(err.Error(), "USHER_OPENID_KEY_ROTATION") {
		t.Errorf("a rotation that is not a duration: %v", err)
	}
	if c, err = parseConfig("serve", []string{"--openid-key-lead", "2h"}, env(), &errs); err != nil || c.KeyLead != 2*time.Hour || c.KeyRotation != 2160*time.Hour {
		t.Errorf("the key lead flag: %v %v %v", c.KeyLead, c.KeyRotation, err)
	}
	for _, bad := range []string{"0", "5000", "ten"} {
		if _, err := parseConfig("serve", nil, env("USHER_IMPORT_MAX_MB", bad), &errs); err == nil || !strings.Contains(strings.ToLower(err.Error()), "import") {
			t.Errorf("USHER_IMPORT_MAX_MB=%s: %v", bad, err)
		}
	}
}

// lockedWriter is a writer the server's goroutines share with the test.
type lockedWriter struct {
	mu sync.Mutex
	b  strings.Builder
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *lockedWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// TestServeReseals: with previous keys configured, serve re-seals in the
// background at start and logs one line per package.
func TestServeReseals(t *testing.T) {
	env := map[string]string{"USHER_SECRET_KEY": "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",
		"USHER_PREVIOUS_SECRET_KEYS": "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=", "USHER_DEMO": "false"}
	ctx, cancel := context.WithCancel(context.Background())
	var logs lockedWriter
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "localhost:0", "--data", t.TempDir()}, func(k string) string { return env[k] }, io.Discard, &logs)
	}()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logs.String(), "package=linked") && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, pkg := range []string{"provision", "openid", "linked"} {
		if !strings.Contains(logs.String(), `msg="re-sealed secrets with the current key" package=`+pkg+" resealed=0") {
			t.Errorf("no re-sealing logged for %s:\n%s", pkg, logs.String())
		}
	}
}

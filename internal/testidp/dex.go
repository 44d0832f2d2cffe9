// Package testidp starts real identity providers for usher's tests.
//
// StartDex runs Dex (github.com/dexidp/dex), an OpenID Connect provider,
// with static clients and static passwords. Dex lives in its own module
// (internal/testidp/dex) so that it stays out of usher's go.mod: StartDex
// builds that module with the go command once per test process, caching the
// program under os.UserCacheDir()/usher-testidp by a hash of the module's
// files (the first build downloads and compiles about 90 modules and takes
// minutes; later runs start at once).
package testidp

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// DexConfig is what a test's Dex knows.
type DexConfig struct {
	Clients []DexClient
	Users   []DexUser
	// ShowApproval shows Dex's approval screen after the password form
	// (it is skipped otherwise). LoginAt approves it.
	ShowApproval bool
	// RefreshReuseInterval is how long a refresh token Dex already rotated
	// is still accepted; none when zero. Dex rotates refresh tokens
	// (offline_access) at every use.
	RefreshReuseInterval time.Duration
}

// DexClient is a static OAuth 2.0 client of Dex.
type DexClient struct {
	ID     string
	Secret string // empty for a public client
	// RedirectURIs must hold every redirect_uri the client sends (Dex also
	// lets a public client use http://127.0.0.1:PORT and http://localhost:PORT
	// addresses).
	RedirectURIs []string
	Public       bool
}

// DexUser is a static password of Dex's local connector ("Email"); people
// sign in with Email and Password. The ID token then carries
//
//	sub                DexSubject(UserID) (Dex's encoding of the user id and connector)
//	email              Email
//	email_verified     true, or false with EmailUnverified
//	name               Username (with the profile scope)
//	preferred_username PreferredUsername, when set (with the profile scope)
//	groups             Groups (with the groups scope)
type DexUser struct {
	Email    string
	Username string
	UserID   string // Email when empty
	Password string // hashed with bcrypt when Dex starts

	PreferredUsername string
	Groups            []string
	EmailUnverified   bool
}

// Dex is a running Dex.
type Dex struct {
	// Issuer is the issuer URL, such as http://127.0.0.1:PORT/dex; the
	// discovery document is at Issuer + "/.well-known/openid-configuration".
	Issuer string
}

// DexSubject is the "sub" claim Dex gives a user of its local connector:
// the unpadded URL-safe base64 of a protocol buffer holding the user id
// (field 1) and the connector id "local" (field 2).
func DexSubject(userID string) string {
	var b []byte
	for _, f := range []struct {
		tag byte
		v   string
	}{{0x0a, userID}, {0x12, "local"}} {
		b = append(b, f.tag)
		n := uint64(len(f.v))
		for n >= 0x80 {
			b = append(b, byte(n)|0x80)
			n >>= 7
		}
		b = append(b, byte(n))
		b = append(b, f.v...)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// StartDex starts a Dex with cfg, stopped when the test ends. It builds the
// program first if no build is cached; a failed build or start fails the
// test.
func StartDex(t testing.TB, cfg DexConfig) *Dex {
	t.Helper()
	bin, err := dexProgram()
	if err != nil {
		t.Fatalf("testidp: building Dex: %v", err)
	}

	wire := dexWireConfig{ShowApproval: cfg.ShowApproval}
	if cfg.RefreshReuseInterval > 0 {
		wire.RefreshReuseInterval = cfg.RefreshReuseInterval.String()
	}
	for _, c := range cfg.Clients {
		wire.Clients = append(wire.Clients, dexWireClient{ID: c.ID, Secret: c.Secret, RedirectURIs: c.RedirectURIs, Public: c.Public})
	}
	for _, u := range cfg.Users {
		wire.Users = append(wire.Users, dexWireUser{
			Email: u.Email, Username: u.Username, PreferredUsername: u.PreferredUsername, UserID: u.UserID,
			Password: u.Password, Groups: u.Groups, EmailUnverified: u.EmailUnverified,
		})
	}
	conf, err := json.Marshal(wire)
	if err != nil {
		t.Fatal(err)
	}

	// Dex reads its configuration from standard input and keeps reading
	// it: closing it stops Dex, and so does the end of this process.
	cmd := exec.Command(bin, "-config", "-", "-stdin-lifeline")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs := &tailBuffer{max: 64 << 10}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("testidp: starting Dex: %v", err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		stdin.Close()
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() && logs.Len() > 0 {
			t.Logf("testidp: Dex's log:\n%s", logs.String())
		}
	})
	if _, err := stdin.Write(append(conf, '\n')); err != nil {
		t.Fatalf("testidp: configuring Dex: %v", err)
	}

	issuer := make(chan string, 1)
	go func() {
		r := bufio.NewReader(stdout)
		line, err := r.ReadString('\n')
		if err == nil && strings.HasPrefix(line, "issuer ") {
			issuer <- strings.TrimSpace(strings.TrimPrefix(line, "issuer "))
		} else {
			close(issuer)
		}
		_, _ = io.Copy(io.Discard, r)
	}()
	select {
	case iss, ok := <-issuer:
		if !ok {
			<-exited
			t.Fatalf("testidp: Dex did not start (%v):\n%s", waitErr, logs.String())
		}
		return &Dex{Issuer: iss}
	case <-time.After(time.Minute):
		t.Fatalf("testidp: Dex did not start within a minute:\n%s", logs.String())
	}
	return nil
}

// The configuration the program in internal/testidp/dex reads.
type dexWireConfig struct {
	Clients      []dexWireClient `json:"clients"`
	Users        []dexWireUser   `json:"users"`
	ShowApproval bool            `json:"showApproval"`

	RefreshReuseInterval string `json:"refreshReuseInterval,omitempty"`
}

type dexWireClient struct {
	ID           string   `json:"id"`
	Secret       string   `json:"secret"`
	RedirectURIs []string `json:"redirectURIs"`
	Public       bool     `json:"public"`
}

type dexWireUser struct {
	Email             string   `json:"email"`
	Username          string   `json:"username"`
	PreferredUsername string   `json:"preferredUsername"`
	UserID            string   `json:"userID"`
	Password          string   `json:"password"`
	Groups            []string `json:"groups"`
	EmailUnverified   bool     `json:"emailUnverified"`
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.b = append(b.b, p...)
	if len(b.b) > b.max {
		b.b = append([]byte(nil), b.b[len(b.b)-b.max:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.b)
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.b)
}

var dexBuild struct {
	once sync.Once
	bin  string
	err  error
}

// dexProgram returns the path of the built Dex program, building it once per
// process unless a build of the same sources is cached.
func dexProgram() (string, error) {
	dexBuild.once.Do(func() { dexBuild.bin, dexBuild.err = buildDex() })
	return dexBuild.bin, dexBuild.err
}

func buildDex() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("cannot find the source of internal/testidp")
	}
	src := filepath.Join(filepath.Dir(file), "dex")
	h := sha256.New()
	fmt.Fprintf(h, "%s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	for _, name := range []string{"go.mod", "go.sum", "main.go"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			return "", fmt.Errorf("the Dex module's sources: %w", err)
		}
		fmt.Fprintf(h, "%s %d\n", name, len(b))
		h.Write(b)
	}
	key := hex.EncodeToString(h.Sum(nil))[:24]

	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "usher-testidp")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "dex-"+key)
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}

	// One build at a time across the test processes of a go test run: the
	// others wait for its result.
	unlock, err := lockFile(bin+".lock", func() bool {
		_, err := os.Stat(bin)
		return err == nil
	})
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}

	goCmd, err := exec.LookPath("go")
	if err != nil {
		goCmd = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	tmp := bin + ".tmp" + strconv.Itoa(os.Getpid())
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goCmd, "build", "-o", tmp, ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "GOWORK=off")
	out, err := cmd.CombinedOutput()
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("go build in %s: %v\n%s", src, err, out)
	}
	if err := os.Rename(tmp, bin); err != nil {
		os.Remove(tmp)
		return "", err
	}
	// Builds of other sources (older versions of the module) go after a day.
	if old, err := filepath.Glob(filepath.Join(dir, "dex-*")); err == nil {
		for _, o := range old {
			if fi, err := os.Stat(o); o != bin && err == nil && time.Since(fi.ModTime()) > 24*time.Hour {
				os.Remove(o)
			}
		}
	}
	return bin, nil
}

// lockFile takes the lock path by creating it, waiting while another process
// holds it unless done reports that the work behind it is finished. The
// holder touches the file every few seconds; a lock untouched for a minute
// (its process was killed) is taken over.
func lockFile(path string, done func() bool) (unlock func(), err error) {
	const stale = time.Minute
	deadline := time.Now().Add(20 * time.Minute)
	for {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err == nil {
			fmt.Fprintf(f, "%d\n", os.Getpid())
			f.Close()
			stop := make(chan struct{})
			go func() {
				for {
					select {
					case <-stop:
						return
					case now := <-time.After(5 * time.Second):
						_ = os.Chtimes(path, now, now)
					}
				}
			}()
			return func() { close(stop); os.Remove(path) }, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, err
		}
		if done() {
			return func() {}, nil
		}
		if fi, err := os.Stat(path); err == nil && time.Since(fi.ModTime()) > stale {
			os.Remove(path)
			continue
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("waited too long for %s", path)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// PasswordGrant signs the user in with the resource owner password grant
// (RFC 6749, section 4.3) through Dex's local connector and returns the ID
// token, with the scopes openid, email, profile and groups. It needs no
// browser: for Go tests and benchmarks that need a real ID token.
func (d *Dex) PasswordGrant(ctx context.Context, client DexClient, email, password string) (idToken string, err error) {
	form := url.Values{
		"grant_type": {"password"},
		"username":   {email},
		"password":   {password},
		"scope":      {"openid email profile groups"},
		"client_id":  {client.ID},
	}
	if client.Secret != "" {
		form.Set("client_secret", client.Secret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.Issuer+"/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("dex: password grant: %s: %s", resp.Status, bytes.TrimSpace(body))
	}
	var tok struct {
		IDToken string `json:"id_token"`
	}
	if err := json.Unmarshal(body, &tok); err != nil {
		return "", fmt.Errorf("dex: password grant: %w", err)
	}
	if tok.IDToken == "" {
		return "", errors.New("dex: password grant: no id_token in the response")
	}
	return tok.IDToken, nil
}

// LoginAt signs a person in at Dex the way a browser would, without one:
// starting from authURL (the relying party's authorization request to Dex,
// or the relying party's own address that redirects there) it follows
// redirects, picks the local connector if Dex shows a choice, posts the
// password form (fields login and password), approves if Dex asks, and
// returns the first redirect that leaves Dex — the relying party's callback
// with code and state — without following it. The client's cookie jar, if
// any, is used and kept, so a relying party's cookies set before the
// redirect to Dex are there for the callback. Redirects within the relying
// party before Dex are followed too; the first one that leaves Dex after
// having reached it is returned.
func (d *Dex) LoginAt(ctx context.Context, client *http.Client, authURL, email, password string) (*url.URL, error) {
	issuer, err := url.Parse(d.Issuer)
	if err != nil {
		return nil, err
	}
	if client == nil {
		client = http.DefaultClient
	}
	c := *client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	onDex := func(u *url.URL) bool { return u.Scheme == issuer.Scheme && u.Host == issuer.Host }
	next, err := url.Parse(authURL)
	if err != nil {
		return nil, err
	}
	method, body := http.MethodGet, url.Values(nil)
	reachedDex, postedPassword := false, false
	for range 30 {
		if onDex(next) {
			reachedDex = true
		}
		var req *http.Request
		if method == http.MethodPost {
			req, err = http.NewRequestWithContext(ctx, method, next.String(), strings.NewReader(body.Encode()))
			if err == nil {
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			}
		} else {
			req, err = http.NewRequestWithContext(ctx, method, next.String(), nil)
		}
		if err != nil {
			return nil, err
		}
		resp, err := c.Do(req)
		if err != nil {
			return nil, err
		}
		page, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		here := resp.Request.URL

		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			loc, err := resp.Location()
			if err != nil {
				return nil, fmt.Errorf("dex login: %s from %s without a Location", resp.Status, here)
			}
			if reachedDex && !onDex(loc) {
				return loc, nil
			}
			next, method, body = loc, http.MethodGet, nil
			continue
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("dex login: %s at %s: %s", resp.Status, here, pageText(page))
		}
		if !onDex(here) {
			return nil, fmt.Errorf("dex login: a page at %s, not a redirect to Dex: %s", here, pageText(page))
		}

		doc, err := html.Parse(bytes.NewReader(page))
		if err != nil {
			return nil, fmt.Errorf("dex login: %s: %w", here, err)
		}
		forms, links := formsAndLinks(doc)
		if f := findForm(forms, func(f form) bool { return f.has("password", "") }); f != nil {
			if postedPassword {
				return nil, fmt.Errorf("dex login: the password form again after posting it (wrong email or password?): %s", pageText(page))
			}
			postedPassword = true
			next, err = here.Parse(f.action)
			if err != nil {
				return nil, err
			}
			method, body = f.method, f.values()
			body.Set("login", email)
			body.Set("password", password)
			continue
		}
		if f := findForm(forms, func(f form) bool { return f.has("approval", "approve") }); f != nil {
			next, err = here.Parse(f.action)
			if err != nil {
				return nil, err
			}
			method, body = f.method, f.values()
			continue
		}
		chose := false
		for _, href := range links {
			u, err := here.Parse(href)
			if err == nil && onDex(u) && strings.HasSuffix(strings.TrimSuffix(u.Path, "/"), "/auth/local") {
				next, method, body, chose = u, http.MethodGet, nil, true
				break
			}
		}
		if !chose {
			return nil, fmt.Errorf("dex login: no password form, approval or local connector at %s: %s", here, pageText(page))
		}
	}
	return nil, errors.New("dex login: too many steps")
}

// form is an HTML form: where it goes and its successful controls.
type form struct {
	action, method string
	fields         []field
}

type field struct{ name, value string }

func (f form) has(name, value string) bool {
	for _, fl := range f.fields {
		if fl.name == name && (value == "" || fl.value == value) {
			return true
		}
	}
	return false
}

func (f form) values() url.Values {
	v := url.Values{}
	for _, fl := range f.fields {
		v.Add(fl.name, fl.value)
	}
	return v
}

func findForm(forms []form, match func(form) bool) *form {
	for i := range forms {
		if match(forms[i]) {
			return &forms[i]
		}
	}
	return nil
}

// formsAndLinks reads the forms (with their inputs, unchecked checkboxes and
// radio buttons left out) and the links' hrefs of a page.
func formsAndLinks(doc *html.Node) (forms []form, links []string) {
	var walk func(n *html.Node, f *form)
	walk = func(n *html.Node, f *form) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "form":
				nf := form{action: attr(n, "action"), method: strings.ToUpper(attr(n, "method"))}
				if nf.method != http.MethodPost {
					nf.method = http.MethodGet
				}
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					walk(c, &nf)
				}
				forms = append(forms, nf)
				return
			case "input":
				name := attr(n, "name")
				typ := strings.ToLower(attr(n, "type"))
				_, checked := attrOK(n, "checked")
				if f != nil && name != "" && typ != "submit" && typ != "button" && typ != "image" &&
					((typ != "checkbox" && typ != "radio") || checked) {
					value, ok := attrOK(n, "value")
					if !ok && (typ == "checkbox" || typ == "radio") {
						value = "on"
					}
					f.fields = append(f.fields, field{name, value})
				}
			case "a":
				if href, ok := attrOK(n, "href"); ok {
					links = append(links, href)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, f)
		}
	}
	walk(doc, nil)
	return forms, links
}

func attr(n *html.Node, key string) string {
	v, _ := attrOK(n, key)
	return v
}

func attrOK(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Namespace == "" && strings.EqualFold(a.Key, key) {
			return a.Val, true
		}
	}
	return "", false
}

// pageText is a page's text, shortened, for error messages.
func pageText(page []byte) string {
	doc, err := html.Parse(bytes.NewReader(page))
	if err != nil {
		return string(page)
	}
	var b strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && (n.Data == "script" || n.Data == "style") {
			return
		}
		if n.Type == html.TextNode {
			if s := strings.TrimSpace(n.Data); s != "" {
				b.WriteString(s)
				b.WriteByte(' ')
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	s := strings.TrimSpace(b.String())
	if len(s) > 500 {
		s = s[:500] + "…"
	}
	return s
}

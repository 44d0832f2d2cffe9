// Package browsertest drives a real, headless Chromium from Go tests, the
// way a person uses usher's pages: open an address, type into a field found
// by its label, click a button by its text, read what the page says.
//
// One browser process serves a whole test binary; every [Page] is a fresh
// browser context (its own cookies, like an incognito window) with one tab.
// Every page a test reaches is checked for the accessibility and layout
// rules in [Page.Problems] and reached through the keyboard ([Page.Keyboard]),
// and any problem fails the test.
//
// A package with browser tests runs them through [Main], which stops the
// browser at the end:
//
//	func TestMain(m *testing.M) { browsertest.Main(m) }
//
// and a test reads like what a person does:
//
//	func TestBrowserSomething(t *testing.T) {
//		p := browsertest.New(t) // skips without Chromium
//		p.Open(base + "/t/acme/")
//		p.Fill("Email, username or phone number", "ada@example.com")
//		p.Click("Continue")
//		p.WantH1("Enter your password")
//		p.Screenshot("signin-password") // with USHER_SCREENSHOTS=1 only
//	}
//
// Name browser tests TestBrowser…: `go test -run Browser` picks them, and
// CI fails when one of them is skipped. Without Chromium they skip with a
// message that says what to install.
package browsertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Timeouts: a browser that hangs fails the test instead of hanging CI.
var (
	// StartTimeout bounds the start of the browser and of each page's tab.
	StartTimeout = 60 * time.Second
	// ActionTimeout bounds each step: a navigation, a click and the page it
	// leads to, typing into a field, a screenshot.
	ActionTimeout = 30 * time.Second
)

// MissingMessage is the skip message of a browser test on a machine
// without Chromium.
const MissingMessage = "Chromium not found: install Debian's chromium to run the browser tests (or set USHER_CHROMIUM to its path)"

func missing() string {
	if p := os.Getenv("USHER_CHROMIUM"); p != "" {
		return "USHER_CHROMIUM=" + p + " is not a program that can run: " + MissingMessage
	}
	return MissingMessage
}

// ExecPath is the Chromium to run: USHER_CHROMIUM when set, else the first
// of chromium, chromium-browser and google-chrome on PATH; "" when none.
func ExecPath() string {
	if p := os.Getenv("USHER_CHROMIUM"); p != "" {
		if found, err := exec.LookPath(p); err == nil {
			return found
		}
		return ""
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// flags keep Chromium headless and quiet: no sandbox (tests often run as
// root in containers), no GPU, and none of the background traffic (updates,
// sync, safe browsing, QUIC) that would flood a closed network.
func flags(path string) []chromedp.ExecAllocatorOption {
	opts := append([]chromedp.ExecAllocatorOption{}, chromedp.DefaultExecAllocatorOptions[:]...)
	return append(opts,
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("font-render-hinting", "none"),
		// The allocator gives the browser a fresh --user-data-dir in the
		// temporary directory and removes it when the browser stops.
	)
}

// shared is the one browser of the test binary, started by the first page.
var shared struct {
	sync.Mutex
	started   bool
	err       error
	ctx       context.Context // the browser's first context
	stop      func()
	skipCause string
}

// browser returns the shared browser's context, starting it on first use.
func browser(t testing.TB) context.Context {
	t.Helper()
	shared.Lock()
	defer shared.Unlock()
	if !shared.started {
		shared.started = true
		path := ExecPath()
		if path == "" {
			shared.skipCause = missing()
		} else {
			allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), flags(path)...)
			ctx, cancelCtx := chromedp.NewContext(allocCtx)
			start, cancelStart := context.WithTimeout(ctx, StartTimeout)
			done := make(chan error, 1)
			// The first Run binds the browser to the context it gets, so it
			// gets ctx itself; the timeout only waits for it.
			go func() { done <- chromedp.Do(ctx) }()
			select {
			case err := <-done:
				shared.err = err
			case <-start.Done():
				shared.err = errors.New("the browser did not start in time")
			}
			cancelStart()
			shared.ctx = ctx
			shared.stop = func() {
				stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
				defer cancel()
				_ = chromedp.Cancel(stopCtx)
				cancelCtx()
				cancelAlloc()
			}
			if shared.err != nil {
				shared.err = fmt.Errorf("starting %s: %w", path, shared.err)
			}
		}
	}
	switch {
	case shared.skipCause != "":
		t.Skip(shared.skipCause)
	case shared.err != nil:
		t.Fatal(shared.err)
	}
	return shared.ctx
}

// Main runs the package's tests, then stops the shared browser, and exits.
func Main(m *testing.M) {
	code := m.Run()
	Stop()
	os.Exit(code)
}

// Stop stops the shared browser if it runs; a later page starts another.
func Stop() {
	shared.Lock()
	defer shared.Unlock()
	if shared.stop != nil {
		shared.stop()
	}
	shared.started, shared.err, shared.ctx, shared.stop, shared.skipCause = false, nil, nil, nil, ""
}

// Available reports whether a browser test can run here; tests that need
// more than a page (a server, a database) may call it first and skip early.
func Available(t testing.TB) {
	t.Helper()
	if ExecPath() == "" {
		t.Skip(missing())
	}
}

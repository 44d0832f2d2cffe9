package openid_test

import (
	"bufio"
	"context"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/internal/browsertest"
	"github.com/usherhq/usher/openid/backchannel"
)

func TestMain(m *testing.M) { browsertest.Main(m) }

// freePort is a port nothing listens on now, for a relying party whose
// redirect URI must be registered before it starts.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

var (
	exampleOnce sync.Once
	exampleBin  string
	exampleErr  error
)

// exampleRP builds examples/relyingparty once per test binary.
func exampleRP(t *testing.T) string {
	t.Helper()
	exampleOnce.Do(func() {
		dir, err := os.MkdirTemp("", "usher-example-rp")
		if err != nil {
			exampleErr = err
			return
		}
		exampleBin = filepath.Join(dir, "relyingparty")
		cmd := exec.Command("go", "build", "-o", exampleBin, "./examples/relyingparty")
		cmd.Dir = ".."
		if out, err := cmd.CombinedOutput(); err != nil {
			exampleErr = err
			exampleBin = string(out)
		}
	})
	if exampleErr != nil {
		t.Fatalf("build examples/relyingparty: %v\n%s", exampleErr, exampleBin)
	}
	return exampleBin
}

// startExample runs the example relying party for tn, registered as a
// client, and returns its address.
func (w *world) startExample(t *testing.T, tn usher.Tenant) string {
	base, _ := w.startExampleClient(t, tn)
	return base
}

// startExampleClient is startExample that also returns the client's id.
func (w *world) startExampleClient(t *testing.T, tn usher.Tenant) (string, string) {
	t.Helper()
	bin := exampleRP(t)
	addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
	base := "http://" + addr
	c := w.client(t, tn, map[string]any{"name": "Example product", "redirect_uris": []string{base + "/callback"},
		"post_logout_redirect_uris": []string{base + "/"}, "backchannel_logout_uri": base + "/backchannel-logout"})
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--issuer", w.issuer(tn), "--client-id", c.ID, "--addr", addr)
	// The secret goes by the environment, not the command line.
	cmd.Env = append(os.Environ(), "RP_CLIENT_SECRET="+c.ClientSecret)
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "listening on") {
				ready <- true
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		t.Fatal("the example relying party did not start")
	}
	return base, c.ID
}

// TestBrowserExampleRelyingParty: the repository's example product, built
// and run as a program, signs a person in through usher in Chromium, shows
// the claims it received, refreshes its tokens and signs out through usher.
func TestBrowserExampleRelyingParty(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		ada := w.ada(t)
		rp := w.startExample(t, w.tenant)
		p := browsertest.New(t)
		p.Open(rp + "/")
		p.WantH1("Example product")
		p.Click("Sign in with usher")
		p.WantH1("Sign in")
		p.Fill("Email, username or phone number", "ada@example.com")
		p.Click("Continue")
		p.WantH1("Enter your password")
		p.Fill("Password", "analytical engine 1843")
		p.Click("Sign in")
		p.WantH1("Signed in as Ada Lovelace")
		p.WantText(`"sub": "`+ada.ID+`"`, `"email": "ada@example.com"`, `"role": "manager"`, `"tenant": "acme"`, `"groups": [`,
			`"client_id": "`, `"scope": "openid`)
		p.Screenshot("openid-example-product")
		p.Click("Refresh tokens")
		p.WantText("Tokens refreshed")
		p.Click("Sign out")
		p.WantH1("Example product")
		// Signed out of usher too: signing in again asks for the password.
		p.Click("Sign in with usher")
		p.WantH1("Sign in")
	})
}

// TestBrowserSignOutConfirmation: a product's logout request without an
// id_token_hint shows the confirmation page in Chromium (phone size, the
// tenant's style); "Stay signed in" keeps the session, "Sign out" ends it
// and lands on the product's registered post-logout address.
func TestBrowserSignOutConfirmation(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		w.ada(t)
		rp, id := w.startExampleClient(t, w.tenant)
		p := browsertest.New(t)
		p.Open(rp + "/")
		p.Click("Sign in with usher")
		p.Fill("Email, username or phone number", "ada@example.com")
		p.Click("Continue")
		p.Fill("Password", "analytical engine 1843")
		p.Click("Sign in")
		p.WantH1("Signed in as Ada Lovelace")
		logout := w.issuer(w.tenant) + "/oauth/logout?" + url.Values{"client_id": {id}, "post_logout_redirect_uri": {rp + "/"}, "state": {"bye"}}.Encode()
		p.Open(logout)
		p.WantH1("Sign out of Acme?")
		p.WantText("Example product asks to sign you out of your Acme account, ada@example.com.")
		p.Screenshot("openid-sign-out-confirm")
		p.Click("Stay signed in")
		p.WantH1("Your account")
		// usher's logout worker, as every replica runs it, tells the
		// product through its back-channel logout URI.
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			backchannel.NewLogoutWorker(w.oid.BackChannel(), backchannel.LogoutWorkerOptions{Poll: 50 * time.Millisecond}).Run(ctx)
			close(done)
		}()
		t.Cleanup(func() { cancel(); <-done })
		p.Open(logout)
		p.Click("Sign out")
		if u := p.URL(); !strings.HasPrefix(u, rp+"/") || !strings.Contains(u, "state=bye") {
			t.Fatalf("after signing out the browser is at %s", u)
		}
		for deadline := time.Now().Add(10 * time.Second); ; {
			if evs := w.logoutEvents(t, w.tenant); len(evs) == 1 && evs[0].DeliveredAt != nil {
				break
			} else if time.Now().After(deadline) {
				t.Fatalf("the product was not told: %+v", evs)
			}
			time.Sleep(50 * time.Millisecond)
		}
		p.Reload()
		p.WantH1("Example product")
		// Signed out of usher: signing in again asks for the password.
		p.Click("Sign in with usher")
		p.WantH1("Sign in")
	})
}

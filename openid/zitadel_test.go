package openid_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	zrp "github.com/zitadel/oidc/v3/pkg/client/rp"
	httphelper "github.com/zitadel/oidc/v3/pkg/http"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/usherhq/usher/internal/browsertest"
)

// rpPage is the pages of the test relying parties: accessible, as every
// page a browser test reaches must be.
var rpPage = template.Must(template.New("rp").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{{.Title}}</title>
<style>body{font:16px/1.5 sans-serif;color:#1a1a1a;background:#fff;margin:1rem}pre{white-space:pre-wrap;word-break:break-all}
button{font:inherit;background:#1f4fd1;color:#fff;border:0;padding:.4rem .8rem;margin:.2rem}a:focus,button:focus{outline:3px solid #0b2a7a}</style></head>
<body><h1>{{.Title}}</h1>{{with .Note}}<p role="status">{{.}}</p>{{end}}
{{range .Buttons}}<form method="post" action="{{.Action}}" style="display:inline"><button type="submit">{{.Text}}</button></form>{{end}}
{{with .Body}}<pre>{{.}}</pre>{{end}}</body></html>`))

type rpButton struct{ Text, Action string }

type rpView struct {
	Title, Note, Body string
	Buttons           []rpButton
}

func showRP(w http.ResponseWriter, v rpView) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	rpPage.Execute(w, v)
}

var zitadelButtons = []rpButton{{"Refresh", "/refresh"}, {"Silent sign-in", "/silent"}, {"Sign out", "/logout"}}

// zitadelRP is a relying party on zitadel/oidc's rp package (certified),
// served at its own address.
func (w *world) zitadelRP(t *testing.T) string {
	t.Helper()
	hs := httptest.NewUnstartedServer(nil)
	base := "http://" + hs.Listener.Addr().String()
	c := w.client(t, w.tenant, map[string]any{"name": "Zitadel RP", "redirect_uris": []string{base + "/callback"},
		"post_logout_redirect_uris": []string{base + "/"}})
	key := make([]byte, 32)
	rand.Read(key)
	cookies := httphelper.NewCookieHandler(key, key, httphelper.WithUnsecure())
	party, err := zrp.NewRelyingPartyOIDC(context.Background(), w.issuer(w.tenant), c.ID, c.ClientSecret, base+"/callback",
		[]string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, "usher", oidc.ScopeOfflineAccess},
		zrp.WithPKCE(cookies), zrp.WithSigningAlgsFromDiscovery(),
		zrp.WithErrorHandler(func(rw http.ResponseWriter, r *http.Request, errorType, desc, state string) {
			showRP(rw, rpView{Title: "Not signed in", Note: "usher answered " + errorType, Buttons: zitadelButtons})
		}))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var tokens *oidc.Tokens[*oidc.IDTokenClaims]
	show := func(rw http.ResponseWriter, note string, info *oidc.UserInfo) {
		b, _ := json.MarshalIndent(info, "", "  ")
		showRP(rw, rpView{Title: "Signed in as " + info.Name, Note: note, Body: string(b), Buttons: zitadelButtons})
	}
	state := func() string { return "st" + rand.Text() }
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(rw http.ResponseWriter, r *http.Request) {
		showRP(rw, rpView{Title: "Zitadel relying party", Buttons: []rpButton{{"Sign in", "/login"}, {"Silent sign-in", "/silent"}}})
	})
	mux.Handle("POST /login", zrp.AuthURLHandler(state, party))
	mux.Handle("POST /silent", zrp.AuthURLHandler(state, party, zrp.WithPromptURLParam("none")))
	mux.Handle("GET /callback", zrp.CodeExchangeHandler(zrp.UserinfoCallback(func(rw http.ResponseWriter, r *http.Request,
		tok *oidc.Tokens[*oidc.IDTokenClaims], _ string, _ zrp.RelyingParty, info *oidc.UserInfo) {
		mu.Lock()
		tokens = tok
		mu.Unlock()
		show(rw, "role "+info.Claims["role"].(string)+", tenant "+info.Claims["tenant"].(string), info)
	}), party))
	mux.HandleFunc("POST /refresh", func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		old := tokens
		mu.Unlock()
		nt, err := zrp.RefreshTokens[*oidc.IDTokenClaims](r.Context(), party, old.RefreshToken, "", "")
		if err != nil {
			showRP(rw, rpView{Title: "Refresh refused", Note: err.Error(), Buttons: zitadelButtons})
			return
		}
		info, err := zrp.Userinfo[*oidc.UserInfo](r.Context(), nt.AccessToken, nt.TokenType, nt.IDTokenClaims.GetSubject(), party)
		if err != nil {
			showRP(rw, rpView{Title: "Userinfo refused", Note: err.Error(), Buttons: zitadelButtons})
			return
		}
		// The old refresh token no longer works after the rotation.
		_, reuse := zrp.RefreshTokens[*oidc.IDTokenClaims](r.Context(), party, old.RefreshToken, "", "")
		mu.Lock()
		tokens = nt
		mu.Unlock()
		show(rw, "refreshed; rotated: "+boolText(nt.RefreshToken != old.RefreshToken && reuse != nil), info)
	})
	mux.HandleFunc("POST /logout", func(rw http.ResponseWriter, r *http.Request) {
		mu.Lock()
		idt := tokens.IDToken
		mu.Unlock()
		u, err := zrp.EndSession(r.Context(), party, idt, base+"/", "bye", "", nil)
		if err != nil {
			showRP(rw, rpView{Title: "Sign-out refused", Note: err.Error()})
			return
		}
		http.Redirect(rw, r, u.String(), http.StatusSeeOther)
	})
	hs.Config.Handler = mux
	hs.Start()
	t.Cleanup(hs.Close)
	return base
}

func boolText(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// TestBrowserZitadelRP: zitadel/oidc's certified relying party signs a
// person in through usher in Chromium (code + PKCE), reads userinfo,
// refreshes with rotation (its old refresh token is then refused), signs in
// silently with prompt=none while signed in, signs out (RP-initiated), and
// after that prompt=none answers login_required.
func TestBrowserZitadelRP(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		w.ada(t)
		base := w.zitadelRP(t)
		p := browsertest.New(t)
		p.Open(base + "/")
		p.WantH1("Zitadel relying party")
		p.Click("Sign in")
		p.WantH1("Sign in")
		p.Fill("Email, username or phone number", "ada@example.com")
		p.Click("Continue")
		p.Fill("Password", "analytical engine 1843")
		p.Click("Sign in")
		p.WantH1("Signed in as Ada Lovelace")
		p.WantText("role manager, tenant acme", `"email": "ada@example.com"`)
		p.Click("Refresh")
		p.WantText("refreshed; rotated: yes")
		p.Click("Silent sign-in")
		p.WantH1("Signed in as Ada Lovelace")
		p.Click("Sign out")
		p.WantH1("Zitadel relying party")
		p.Click("Silent sign-in")
		p.WantH1("Not signed in")
		p.WantText("usher answered login_required")
		if !strings.Contains(p.URL(), base) {
			t.Fatalf("ended at %s", p.URL())
		}
	})
}

// openidClientRP starts the relying party of testdata/openid-client (npm's
// openid-client, certified) with node, installing its locked packages
// first when they are absent. The client is registered with extra (a
// private_key_jwt client's method and keys, say); env is for the relying
// party (its private key and the way it bends its assertions).
func (w *world) openidClientRP(t *testing.T, extra map[string]any, env ...string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the openid-client interop test needs Node.js 20 or later (apt-get install nodejs npm)")
	}
	dir := filepath.Join("testdata", "openid-client")
	npmOnce.Do(func() {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", "openid-client")); err == nil {
			return
		}
		cmd := exec.Command("npm", "ci", "--no-audit", "--no-fund")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			npmErr = fmt.Errorf("npm ci in %s: %v\n%s", dir, err, out)
		}
	})
	if npmErr != nil {
		t.Fatal(npmErr)
	}
	port := strconv.Itoa(freePort(t))
	base := "http://127.0.0.1:" + port
	in := map[string]any{"name": "openid-client RP", "redirect_uris": []string{base + "/callback"},
		"post_logout_redirect_uris": []string{base + "/"}}
	maps.Copy(in, extra)
	c := w.client(t, w.tenant, in)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, node, "rp.mjs", w.issuer(w.tenant), c.ID, port)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "RP_CLIENT_SECRET="+c.ClientSecret)
	cmd.Env = append(cmd.Env, env...)
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
		t.Fatal("the openid-client relying party did not start")
	}
	return base
}

var (
	npmOnce sync.Once
	npmErr  error
)

// TestBrowserOpenIDClient: npm's openid-client (certified, run with node)
// signs a person in through usher in Chromium with code + PKCE, checking
// RFC 9207's iss; reads userinfo; refreshes with rotation; signs in
// silently with prompt=none; signs out; then prompt=none answers
// login_required.
func TestBrowserOpenIDClient(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		w.ada(t)
		base := w.openidClientRP(t, nil)
		p := browsertest.New(t)
		p.Open(base + "/")
		p.WantH1("openid-client relying party")
		p.Click("Silent sign-in")
		p.WantH1("Not signed in")
		p.WantText("usher answered login_required")
		p.Click("Sign in")
		p.WantH1("Sign in")
		p.Fill("Email, username or phone number", "ada@example.com")
		p.Click("Continue")
		p.Fill("Password", "analytical engine 1843")
		p.Click("Sign in")
		p.WantH1("Signed in as Ada Lovelace")
		p.WantText("role manager, tenant acme", `"email": "ada@example.com"`, `"plan": "std"`)
		p.Click("Refresh")
		p.WantText("refreshed; rotated: yes")
		p.Click("Silent sign-in")
		p.WantH1("Signed in as Ada Lovelace")
		p.Click("Sign out")
		p.WantH1("openid-client relying party")
		p.Click("Silent sign-in")
		p.WantH1("Not signed in")
		p.WantText("usher answered login_required")
	})
}

package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"sync"
	"time"
)

// The openid mode measures the OpenID Connect provider's token endpoint
// and userinfo: client credentials, code exchanges (codes made first
// through the authorization endpoint with a signed-in session), refreshes
// (each worker refreshes its own token family; every answer's new refresh
// token is the next request's) and userinfo with an access token.

// oidcLoad is what the openid phases share.
type oidcLoad struct {
	issuer   string // http://host/t/<slug>
	path     string // the issuer's path: /t/<slug>
	machine  oidcClient
	product  oidcClient
	verifier string // one PKCE verifier for every code: the load is the server's, not the client's
	cookies  *http.Client
}

type oidcClient struct{ ID, Secret string }

const loadRedirect = "http://127.0.0.1/usherload/callback"

// setupOpenID registers the load's clients and signs its user in.
func (a *api) setupOpenID(ctx context.Context, slug string) (*oidcLoad, error) {
	tpath := "/api/v1/tenants/" + url.PathEscape(slug)
	o := &oidcLoad{issuer: a.base + "/t/" + url.PathEscape(slug), path: a.baseURL.Path + "/t/" + url.PathEscape(slug),
		verifier: strings.Repeat("usherload-pkce-verifier-", 3)}
	var c struct {
		ID     string `json:"client_id"`
		Secret string `json:"client_secret"`
	}
	if err := a.call(ctx, "POST", tpath+"/clients", map[string]any{"name": "usherload machine", "grant_types": []string{"client_credentials"},
		"scopes": []string{"usher"}}, &c); err != nil {
		return nil, err
	}
	o.machine = oidcClient{c.ID, c.Secret}
	if err := a.call(ctx, "POST", tpath+"/clients", map[string]any{"name": "usherload product", "redirect_uris": []string{loadRedirect}}, &c); err != nil {
		return nil, err
	}
	o.product = oidcClient{c.ID, c.Secret}
	if err := a.signinUsers(ctx, slug, 1); err != nil {
		return nil, err
	}
	jar, _ := cookiejar.New(nil)
	o.cookies = &http.Client{Jar: jar, Transport: a.client.Transport, Timeout: a.timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := o.cookies.PostForm(o.issuer+"/signin/password", url.Values{"identifier": {signinEmail(1)}, "password": {signinPassword}})
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		return nil, fmt.Errorf("signing the load user in: %s", resp.Status)
	}
	return o, nil
}

// code gets one authorization code through the authorization endpoint
// and the sign-in step, with the signed-in session: two requests.
func (o *oidcLoad) code(ctx context.Context) (string, error) {
	sum := sha256.Sum256([]byte(o.verifier))
	q := url.Values{"client_id": {o.product.ID}, "redirect_uri": {loadRedirect}, "response_type": {"code"},
		"scope": {"openid profile email usher offline_access"}, "state": {"s"}, "nonce": {"n"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"}}
	u := o.issuer + "/oauth/authorize?" + q.Encode()
	for hop := 0; hop < 3; hop++ {
		req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
		resp, err := o.cookies.Do(req)
		if err != nil {
			return "", err
		}
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther || loc == "" {
			return "", fmt.Errorf("authorization: %s", resp.Status)
		}
		if strings.HasPrefix(loc, loadRedirect) {
			l, err := url.Parse(loc)
			if err != nil {
				return "", err
			}
			if c := l.Query().Get("code"); c != "" {
				return c, nil
			}
			return "", fmt.Errorf("authorization answered %s", l.Query().Get("error"))
		}
		next, err := url.Parse(loc)
		if err != nil {
			return "", err
		}
		u = resp.Request.URL.ResolveReference(next).String()
	}
	return "", errors.New("authorization: too many redirects")
}

// codes gets n codes with conc workers.
func (o *oidcLoad) codes(ctx context.Context, n, conc int) ([]string, error) {
	out := make([]string, 0, n)
	var mu sync.Mutex
	var first error
	var wg sync.WaitGroup
	jobs := make(chan struct{})
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range jobs {
				c, err := o.code(ctx)
				mu.Lock()
				if err != nil && first == nil {
					first = err
				} else if err == nil {
					out = append(out, c)
				}
				mu.Unlock()
			}
		}()
	}
	for range n {
		select {
		case jobs <- struct{}{}:
		case <-ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
	if len(out) == 0 && first != nil {
		return nil, first
	}
	return out, nil
}

func (o *oidcLoad) form(kv ...string) []byte {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return []byte(v.Encode())
}

func hasToken(body []byte) bool { return bytes.Contains(body, []byte(`"access_token":"`)) }

// clientCredentials posts the client credentials grant (client_secret_post).
func (l *loader) clientCredentials(o *oidcLoad) requestMaker {
	body := o.form("grant_type", "client_credentials", "client_id", o.machine.ID, "client_secret", o.machine.Secret, "scope", "usher")
	return func(*rand.Rand) (*request, error) {
		return &request{method: "POST", target: o.path + "/oauth/token", body: body, form: true, check: func(status int, b []byte) bool {
			return status == http.StatusOK && hasToken(b)
		}}, nil
	}
}

// exchange posts the code grant, each code once.
func (l *loader) exchange(o *oidcLoad, codes []string) requestMaker {
	var mu sync.Mutex
	return func(*rand.Rand) (*request, error) {
		mu.Lock()
		if len(codes) == 0 {
			mu.Unlock()
			return nil, errors.New("no code left")
		}
		c := codes[len(codes)-1]
		codes = codes[:len(codes)-1]
		mu.Unlock()
		body := o.form("grant_type", "authorization_code", "code", c, "redirect_uri", loadRedirect, "code_verifier", o.verifier,
			"client_id", o.product.ID, "client_secret", o.product.Secret)
		return &request{method: "POST", target: o.path + "/oauth/token", body: body, form: true, check: func(status int, b []byte) bool {
			return status == http.StatusOK && hasToken(b)
		}}, nil
	}
}

// refresh posts the refresh grant. The families' newest tokens wait in
// pool; each answer puts its new one back.
func (l *loader) refresh(o *oidcLoad, pool chan string) requestMaker {
	return func(*rand.Rand) (*request, error) {
		var rt string
		select {
		case rt = <-pool:
		case <-time.After(5 * time.Second):
			return nil, errors.New("no refresh token left: refreshes failed")
		}
		body := o.form("grant_type", "refresh_token", "refresh_token", rt, "client_id", o.product.ID, "client_secret", o.product.Secret)
		return &request{method: "POST", target: o.path + "/oauth/token", body: body, form: true, check: func(status int, b []byte) bool {
			var t struct {
				Access  string `json:"access_token"`
				Refresh string `json:"refresh_token"`
			}
			if status != http.StatusOK || json.Unmarshal(b, &t) != nil || t.Access == "" || t.Refresh == "" {
				return false
			}
			pool <- t.Refresh
			return true
		}}, nil
	}
}

// userinfo gets userinfo with an access token.
func (l *loader) userinfo(o *oidcLoad, access string) requestMaker {
	auth := "Bearer " + access
	return func(*rand.Rand) (*request, error) {
		return &request{method: "GET", target: o.path + "/oauth/userinfo", auth: auth, check: func(status int, b []byte) bool {
			return status == http.StatusOK && bytes.Contains(b, []byte(`"sub":"`))
		}}, nil
	}
}

// tokens exchanges codes with net/http, for the refresh families and the
// userinfo phase's access token.
func (o *oidcLoad) tokens(ctx context.Context, codes []string) (refresh []string, access string, err error) {
	for _, c := range codes {
		body := o.form("grant_type", "authorization_code", "code", c, "redirect_uri", loadRedirect, "code_verifier", o.verifier,
			"client_id", o.product.ID, "client_secret", o.product.Secret)
		req, _ := http.NewRequestWithContext(ctx, "POST", o.issuer+"/oauth/token", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := o.cookies.Do(req)
		if err != nil {
			return nil, "", err
		}
		var t struct {
			Access  string `json:"access_token"`
			Refresh string `json:"refresh_token"`
		}
		err = json.NewDecoder(resp.Body).Decode(&t)
		resp.Body.Close()
		if err != nil || t.Refresh == "" {
			return nil, "", fmt.Errorf("code exchange: %s", resp.Status)
		}
		refresh, access = append(refresh, t.Refresh), t.Access
	}
	return refresh, access, nil
}

// runOpenID runs the openid phases at each concurrency level.
func runOpenID(ctx context.Context, cfg config, l *loader, phase func(string, int, int, time.Duration, requestMaker) error) error {
	o, err := l.api.setupOpenID(ctx, cfg.Slug)
	if err != nil {
		return fmt.Errorf("setting up the OpenID Connect clients: %w", err)
	}
	for _, c := range cfg.Concurrency {
		if err := phase("client-credentials", c, cfg.N, cfg.Duration, l.clientCredentials(o)); err != nil {
			return err
		}
	}
	for _, c := range cfg.Concurrency {
		// Codes live 60 seconds: make a level's worth, then exchange them.
		n := min(cfg.N, cfg.Codes)
		start := time.Now()
		codes, err := o.codes(ctx, n, max(c, 4))
		if err != nil {
			return fmt.Errorf("getting codes: %w", err)
		}
		l.logf("authorize: %d codes in %s (%.0f/s, two requests each: authorization endpoint and sign-in step)",
			len(codes), time.Since(start).Round(time.Millisecond), float64(len(codes))/time.Since(start).Seconds())
		if err := phase("code-exchange", c, len(codes), cfg.Duration, l.exchange(o, codes)); err != nil {
			return err
		}
	}
	for _, c := range cfg.Concurrency {
		codes, err := o.codes(ctx, c, c)
		if err != nil {
			return fmt.Errorf("getting codes: %w", err)
		}
		refresh, _, err := o.tokens(ctx, codes)
		if err != nil {
			return err
		}
		pool := make(chan string, len(refresh))
		for _, rt := range refresh {
			pool <- rt
		}
		if err := phase("refresh", c, cfg.N, cfg.Duration, l.refresh(o, pool)); err != nil {
			return err
		}
	}
	codes, err := o.codes(ctx, 1, 1)
	if err != nil {
		return err
	}
	_, access, err := o.tokens(ctx, codes)
	if err != nil {
		return err
	}
	for _, c := range cfg.Concurrency {
		if err := phase("userinfo", c, cfg.N, cfg.Duration, l.userinfo(o, access)); err != nil {
			return err
		}
	}
	return nil
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// api talks to one usher server with one keep-alive client.
type api struct {
	base    string // "http://127.0.0.1:8080", no trailing slash
	baseURL *url.URL
	auth    string // "Bearer ..."
	client  *http.Client
	timeout time.Duration
}

func newAPI(base *url.URL, token string, conc int, timeout time.Duration) *api {
	tr := &http.Transport{
		Proxy:               nil, // never through a proxy: only the given address
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conc + 16,
		MaxIdleConnsPerHost: conc + 16, // every worker keeps its connection
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	return &api{
		base:    base.String(),
		baseURL: base,
		timeout: timeout,
		auth:    "Bearer " + token,
		client: &http.Client{
			Transport: tr,
			Timeout:   timeout,
			// Follow nothing: only the given address is contacted.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// apiError is a non-2xx answer of a setup call.
type apiError struct {
	method, path string
	status       int
	body         string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s %s: %d %s", e.method, e.path, e.status, e.body)
}

// call sends a JSON request and decodes a 2xx JSON answer into out.
func (a *api) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", a.auth)
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := a.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &apiError{method: method, path: path, status: resp.StatusCode, body: truncate(string(b), 500)}
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	return nil
}

// ready asks /readyz which database the server uses.
func (a *api) ready(ctx context.Context) (string, error) {
	var out struct {
		Status   string `json:"status"`
		Database string `json:"database"`
	}
	if err := a.call(ctx, "GET", "/readyz", nil, &out); err != nil {
		return "", fmt.Errorf("is usher running at %s? %w", a.base, err)
	}
	return out.Database, nil
}

// setup creates the tenant, a plan with seats and makes it the default plan.
func (a *api) setup(ctx context.Context, slug string, seats int) error {
	var tenant struct {
		ID string `json:"id"`
	}
	if err := a.call(ctx, "POST", "/api/v1/tenants", map[string]any{"slug": slug, "name": "Load test " + slug}, &tenant); err != nil {
		var ae *apiError
		if errors.As(err, &ae) && (ae.status == 401 || ae.status == 403) {
			return fmt.Errorf("%w (is the token an operator token?)", err)
		}
		return err
	}
	tpath := "/api/v1/tenants/" + url.PathEscape(slug)
	var plan struct {
		ID string `json:"id"`
	}
	if err := a.call(ctx, "POST", tpath+"/plans", map[string]any{"key": "load", "name": "Load", "seats": seats}, &plan); err != nil {
		return err
	}
	if plan.ID == "" {
		return errors.New("the new plan has no id")
	}
	// PATCH takes the whole settings object: read it, change the default plan.
	var cur struct {
		Settings map[string]any `json:"settings"`
	}
	if err := a.call(ctx, "GET", tpath, nil, &cur); err != nil {
		return err
	}
	if cur.Settings == nil {
		return errors.New("the tenant has no settings object")
	}
	cur.Settings["default_plan_id"] = plan.ID
	var updated struct {
		Settings struct {
			DefaultPlanID string `json:"default_plan_id"`
		} `json:"settings"`
	}
	if err := a.call(ctx, "PATCH", tpath, map[string]any{"settings": cur.Settings}, &updated); err != nil {
		return err
	}
	if updated.Settings.DefaultPlanID != plan.ID {
		return fmt.Errorf("the tenant's default plan is %q, not the load plan %q", updated.Settings.DefaultPlanID, plan.ID)
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
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

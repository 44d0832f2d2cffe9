package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/usherhq/usher/apitoken"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/signin"
	"github.com/usherhq/usher/store/storetest"
	"github.com/usherhq/usher/web"
)

// The scim mode against a real usher server on SQLite: creations and
// lookups through the tenant's SCIM endpoint with the token it makes.
func TestRunSCIMAgainstUsher(t *testing.T) {
	st := storetest.OpenSQLite(t, nil)
	hs := httptest.NewUnstartedServer(nil)
	links := web.Links{PublicURL: "http://" + hs.Listener.Addr().String()}
	svc := provision.New(st, nil, links)
	if err := apitoken.New(st, time.Now).EnsureBootstrapToken(context.Background(), "usherload-test-operator"); err != nil {
		t.Fatal(err)
	}
	hs.Config.Handler = web.New(slog.New(slog.NewTextHandler(io.Discard, nil)), web.Config{Version: "test", Links: links}, st, svc, signin.New(st, svc, time.Now), nil)
	hs.Start()
	defer hs.Close()
	var out, errs bytes.Buffer
	args := []string{"--url", hs.URL, "--token", "usherload-test-operator", "--mode", "scim", "--concurrency", "1,4", "--n", "20", "--calibrate=false",
		"--accounts", "60", "--lookups", "100", "--fill-concurrency", "4", "--json", "--tenant", "load-scim"}
	if err := run(context.Background(), args, func(string) string { return "" }, &out, &errs); err != nil {
		t.Fatalf("run: %v\n%s", err, errs.String())
	}
	var rep report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("json: %v\n%s", err, out.String())
	}
	var phases []string
	for _, r := range rep.Results {
		phases = append(phases, r.Phase)
		if r.OK != r.Requests || r.OK == 0 {
			t.Errorf("%s c=%d: %d ok of %d: %v", r.Phase, r.Concurrency, r.OK, r.Requests, r.ErrorSamples)
		}
	}
	if got := strings.Join(phases, " "); got != "scim-create scim-create scim-fill scim-lookup scim-lookup" {
		t.Errorf("phases %s", got)
	}
	tn, err := st.Read().TenantBySlug(context.Background(), "load-scim")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := st.Read().CountAccounts(context.Background(), tn.ID); err != nil || n != 60 || rep.Accounts != 60 {
		t.Errorf("%d accounts (%v), report %d", n, err, rep.Accounts)
	}
}

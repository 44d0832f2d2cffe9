package main

import (
	"bufio"
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/usherhq/usher/imports"
	"github.com/usherhq/usher/store/storetest"
)

// TestImportSurvivesKill: usher serve is killed (SIGKILL) in the middle of
// an import and started again; the new process takes the job over when
// the dead one's lease runs out and finishes it, each row created exactly
// once and none reported as someone who existed. On both databases.
func TestImportSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the usher binary")
	}
	bin := filepath.Join(t.TempDir(), "usher")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			env := []string{"USHER_BOOTSTRAP_OPERATOR_TOKEN=" + killToken, "USHER_IMPORT_LEASE=2s", "USHER_DEMO=false"}
			// open reads the database the server used, once it is stopped.
			open := func(data string) (*sql.DB, error) {
				return sql.Open("sqlite", "file:"+filepath.Join(data, "usher.db")+"?mode=ro")
			}
			if db == "postgres" {
				url := storetest.PostgresSchemaURL(t)
				env = append(env, "USHER_DATABASE_URL="+url, "USHER_SECRET_KEY=AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=")
				open = func(string) (*sql.DB, error) { return sql.Open("pgx", url) }
			}
			killImport(t, bin, env, open)
		})
	}
}

const killToken = "ush_kill-test-operator-token-0123456789"

// killRows is enough rows that the import is still running when the
// test sees its first batches recorded.
const killRows = 4000

func killImport(t *testing.T, bin string, env []string, open func(data string) (*sql.DB, error)) {
	data := t.TempDir()
	srv := startBinary(t, bin, data, env)
	c := &killClient{t: t, base: srv.base + "/api/v1/tenants"}
	c.do("POST", "", `{"slug":"acme","name":"Acme"}`, 201, nil)
	var plan struct{ ID string }
	c.do("POST", "/acme/plans", fmt.Sprintf(`{"key":"std","name":"Standard","seats":%d}`, killRows+10), 201, &plan)
	var tn struct{ Settings map[string]any }
	c.do("GET", "/acme", "", 200, &tn)
	tn.Settings["default_plan_id"] = plan.ID
	settings, _ := json.Marshal(map[string]any{"settings": tn.Settings})
	c.do("PATCH", "/acme", string(settings), 200, nil)
	var csv bytes.Buffer
	csv.WriteString("First name,Last name,Email\n")
	for i := range killRows {
		fmt.Fprintf(&csv, "P,N%d,p%d@example.com\n", i, i)
	}
	var job imports.Job
	c.do("POST", "/acme/imports", csv.String(), 202, &job)

	// Killed once some batches are recorded, before the end.
	for {
		c.do("GET", "/acme/imports/"+job.ID, "", 200, &job)
		if job.State == "done" {
			t.Fatalf("the import ended before the test could kill the server: give it more rows (%+v)", job)
		}
		if job.RowsDone > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	srv.kill()
	t.Logf("killed at %d of %d rows", job.RowsDone, job.Rows)

	srv = startBinary(t, bin, data, env)
	c.base = srv.base + "/api/v1/tenants"
	for job.State != "done" {
		time.Sleep(100 * time.Millisecond)
		c.do("GET", "/acme/imports/"+job.ID, "", 200, &job)
		if job.State == "failed" || job.State == "cancelled" {
			t.Fatalf("%+v", job)
		}
	}
	if job.Created != killRows || job.RowsDone != killRows || job.Skipped != 0 || job.Refused != 0 {
		t.Errorf("after the restart: %+v", job)
	}
	var p struct {
		SeatsUsed int `json:"seats_used"`
	}
	c.do("GET", "/acme/plans/"+plan.ID, "", 200, &p)
	if p.SeatsUsed != killRows {
		t.Errorf("%d accounts hold seats after an import of %d rows", p.SeatsUsed, killRows)
	}
	report := c.do("GET", "/acme/imports/"+job.ID+"/report.csv", "", 200, nil)
	lines := strings.Split(strings.TrimSpace(report), "\n")
	created := 0
	accounts := map[string]bool{}
	for _, l := range lines[1:] {
		f := strings.Split(l, ",")
		if f[len(f)-3] == "created" && !accounts[f[len(f)-1]] {
			created++
			accounts[f[len(f)-1]] = true
		} else {
			t.Errorf("report line %q", l)
		}
	}
	if len(lines) != killRows+1 || created != killRows {
		t.Errorf("the report has %d lines, %d rows created once", len(lines), created)
	}
	srv.kill()

	// None half-made: each person has its account, each account its
	// person, login identifier and activation, and nothing points at a
	// row that is not there (PostgreSQL has no foreign keys between them).
	db, err := open(data)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var persons, accountN, loneP, loneA, ids, acts, strays int
	err = db.QueryRow(`SELECT (SELECT count(*) FROM persons), (SELECT count(*) FROM accounts),
		(SELECT count(*) FROM persons p WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.person_id = p.id)),
		(SELECT count(*) FROM accounts a WHERE NOT EXISTS (SELECT 1 FROM persons p WHERE p.id = a.person_id)),
		(SELECT count(DISTINCT account_id) FROM login_ids), (SELECT count(DISTINCT account_id) FROM activations),
		(SELECT count(*) FROM login_ids l WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = l.account_id))
		+ (SELECT count(*) FROM activations v WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = v.account_id))`).
		Scan(&persons, &accountN, &loneP, &loneA, &ids, &acts, &strays)
	if err != nil {
		t.Fatal(err)
	}
	if persons != killRows || accountN != killRows || loneP != 0 || loneA != 0 || ids != killRows || acts != killRows || strays != 0 {
		t.Errorf("after the restart: %d persons, %d accounts, %d persons without an account, %d accounts without a person, "+
			"%d accounts with a login identifier, %d with an activation, %d rows pointing at no account",
			persons, accountN, loneP, loneA, ids, acts, strays)
	}
}

type binary struct {
	cmd  *exec.Cmd
	base string
}

// startBinary runs the usher binary's serve on data and waits for it to
// listen.
func startBinary(t *testing.T, bin, data string, env []string) *binary {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data", data)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "USHER_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	b := &binary{cmd: cmd}
	t.Cleanup(b.kill)
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if _, rest, ok := strings.Cut(sc.Text(), " listening on "); ok {
			b.base, _, _ = strings.Cut(rest, " ")
			break
		}
	}
	if b.base == "" {
		t.Fatalf("usher serve did not start: %v", sc.Err())
	}
	go io.Copy(io.Discard, out)
	return b
}

// kill ends the process with SIGKILL: nothing of it runs after.
func (b *binary) kill() {
	if b.cmd.ProcessState == nil {
		_ = b.cmd.Process.Kill()
		_ = b.cmd.Wait()
	}
}

type killClient struct {
	t    *testing.T
	base string
}

// do sends body (JSON, or CSV for an import) and decodes the answer into
// out; it fails the test unless the status is want. It returns the body.
func (c *killClient) do(method, path, body string, want int, out any) string {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.base+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+killToken)
	req.Header.Set("Content-Type", "application/json")
	if strings.HasSuffix(path, "/imports") {
		req.Header.Set("Content-Type", "text/csv")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		c.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			c.t.Fatal(err)
		}
	}
	return string(b)
}

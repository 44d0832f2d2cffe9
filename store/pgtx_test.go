package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usherhq/usher"
)

// pgOpenVia opens a store on a fresh schema of the test PostgreSQL, reached
// through hostport when it is set (a proxy), and an admin connection. It is
// storetest.OpenPostgres's work again because these tests reach into the
// package's lanes, and storetest imports store.
func pgOpenVia(t *testing.T, hostport string) (*Store, *sql.DB, string) {
	return pgOpenWith(t, hostport, nil)
}

// pgOpenWith is pgOpenVia with more parameters in the store's URL.
func pgOpenWith(t *testing.T, hostport string, params url.Values) (*Store, *sql.DB, string) {
	base := os.Getenv("USHER_TEST_POSTGRES_URL")
	if base == "" {
		t.Skip("USHER_TEST_POSTGRES_URL is not set")
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec("DROP SCHEMA " + schema + " CASCADE"); admin.Close() })
	u, _ := url.Parse(base)
	if hostport != "" {
		u.Host = hostport
	}
	q := u.Query()
	for k, v := range params {
		q[k] = v
	}
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	st, err := Open(context.Background(), u.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, admin, schema
}

// auditWrite is a grouped write of one audit event: an insert that joins
// and goes strict with the COMMIT.
func auditWrite(ctx context.Context) writeReq {
	return writeReq{ctx: ctx, done: make(chan writeResult, 1), state: new(atomic.Int32), fn: func(tx *Tx) error {
		return tx.InsertAudit(ctx, "ten", &usher.AuditEvent{ActorKind: "t", Action: "a", TargetKind: "x", TargetID: "y"})
	}}
}

// A group whose statements went with their COMMIT, cancelled while the
// COMMIT runs, must not be reported as refused (and run again) when it may
// have committed: only an error the server gave for a statement says the
// COMMIT was skipped.
func TestStrictGroupCancelledDuringCommit(t *testing.T) {
	st, admin, schema := pgOpenVia(t, "")
	// A COMMIT that takes a while and that a cancel request does not stop
	// (as a commit waiting for its WAL flush or a synchronous standby).
	for _, q := range []string{
		`CREATE FUNCTION ` + schema + `.slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN BEGIN PERFORM pg_sleep(0.3); EXCEPTION WHEN query_canceled THEN NULL; END; RETURN NULL; END $$`,
		`CREATE CONSTRAINT TRIGGER slow AFTER INSERT ON ` + schema + `.audit_events DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ` + schema + `.slow()`,
	} {
		if _, err := admin.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	conn, err := st.w.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	time.AfterFunc(150*time.Millisecond, cancel)
	_, res, _ := st.pgExec(ctx, conn, []writeReq{auditWrite(ctx), auditWrite(ctx)}, true)
	conn.Close()
	time.Sleep(time.Second) // let the server finish
	var n int
	if err := admin.QueryRow("SELECT count(*) FROM " + schema + ".audit_events").Scan(&n); err != nil {
		t.Fatal(err)
	}
	switch {
	case res.err == nil && n != 2:
		t.Fatalf("reported committed, %d rows", n)
	case errors.Is(res.err, errJoined) && n != 0:
		t.Fatalf("reported refused (to run again), but %d rows committed: %v", n, res.err)
	case res.err != nil && !errors.Is(res.err, errJoined) && !errors.Is(res.err, errCommit):
		t.Fatalf("unexpected outcome: %v", res.err)
	}
	t.Logf("outcome %v, %d rows", res.err, n)
}

// proxy forwards TCP connections to the database and can hold back the
// database's answers, then cut the connections.
type proxy struct {
	ln     net.Listener
	mu     sync.Mutex
	paused bool
	cond   *sync.Cond
	conns  []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln}
	p.cond = sync.NewCond(&p.mu)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c)
			p.mu.Unlock()
			go func() { io.Copy(s, c); s.Close() }()
			go func() {
				buf := make([]byte, 32<<10)
				for {
					n, err := s.Read(buf)
					p.mu.Lock()
					for p.paused {
						p.cond.Wait()
					}
					p.mu.Unlock()
					if n > 0 {
						if _, werr := c.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						c.Close()
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return p
}

func (p *proxy) pause(b bool) {
	p.mu.Lock()
	p.paused = b
	p.cond.Broadcast()
	p.mu.Unlock()
}

// The connection breaks after the server ran a strict group with its
// COMMIT, before the client read the answers: the writes hear that the
// outcome is unknown, and are not run again (which would repeat them).
func TestStrictGroupConnectionLostAfterCommit(t *testing.T) {
	base, err := url.Parse(os.Getenv("USHER_TEST_POSTGRES_URL"))
	if err != nil || base.Host == "" {
		t.Skip("USHER_TEST_POSTGRES_URL is not set, or has no host")
	}
	px := newProxy(t, base.Host)
	st, admin, schema := pgOpenVia(t, px.ln.Addr().String())
	bg := context.Background()
	// Warm up: prepare the strict 2-row insert on every pooled connection.
	for range 3 {
		var w sync.WaitGroup
		for range 2 {
			w.Add(1)
			go func() {
				defer w.Done()
				st.WriteGrouped(bg, func(tx *Tx) error {
					return tx.InsertAudit(bg, "warm", &usher.AuditEvent{ActorKind: "t", Action: "a", TargetKind: "x", TargetID: "y"})
				})
			}()
		}
		w.Wait()
	}
	st.w.SetMaxIdleConns(1)
	st.w.SetMaxOpenConns(1)
	// Warm the single connection with a group of 2.
	{
		conn, _ := st.w.Conn(bg)
		if _, res, _ := st.pgExec(bg, conn, []writeReq{auditWrite(bg), auditWrite(bg)}, true); res.err != nil {
			t.Fatal(res.err)
		}
		conn.Close()
	}
	st.w.SetMaxOpenConns(32)
	admin.Exec("DELETE FROM " + schema + ".audit_events")

	px.pause(true)
	_, rerunBefore := st.GroupStats()
	reqs := []writeReq{auditWrite(bg), auditWrite(bg)}
	go st.runGroup(reqs)
	// Wait until the server committed the group.
	deadline := time.Now().Add(5 * time.Second)
	for {
		var n int
		admin.QueryRow("SELECT count(*) FROM " + schema + ".audit_events").Scan(&n)
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			px.pause(false)
			t.Fatal("group never committed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Break the client's connection.
	px.mu.Lock()
	for _, c := range px.conns {
		c.Close()
	}
	px.mu.Unlock()
	px.pause(false)
	for i, r := range reqs {
		if res := <-r.done; !errors.Is(res.err, errCommit) {
			t.Errorf("write %d: %v, want the commit's unknown outcome", i, res.err)
		}
	}
	var n int
	admin.QueryRow("SELECT count(*) FROM " + schema + ".audit_events").Scan(&n)
	if _, rerun := st.GroupStats(); n != 2 || rerun != rerunBefore {
		t.Errorf("2 writes: %d rows committed, %d run again", n, rerun-rerunBefore)
	}
}

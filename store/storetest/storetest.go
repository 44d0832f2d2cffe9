// Package storetest opens fresh stores for tests and benchmarks: SQLite in
// a temporary folder, PostgreSQL in a new schema of USHER_TEST_POSTGRES_URL.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/store"
)

// PostgresURL is the database the PostgreSQL tests use, or "".
func PostgresURL() string { return os.Getenv("USHER_TEST_POSTGRES_URL") }

// OpenSQLite opens a fresh SQLite store in the test's temporary folder.
func OpenSQLite(t testing.TB, now func() time.Time) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "usher.db"), now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// PostgresSchemaURL returns USHER_TEST_POSTGRES_URL on a fresh schema,
// dropped at the end of the test, for a store another process opens.
func PostgresSchemaURL(t testing.TB) string {
	t.Helper()
	base := PostgresURL()
	if base == "" {
		t.Skip("USHER_TEST_POSTGRES_URL is not set: skipping PostgreSQL")
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("create schema in %s: %v", base, err)
	}
	t.Cleanup(func() {
		if a, err := sql.Open("pgx", base); err == nil {
			a.Exec("DROP SCHEMA " + schema + " CASCADE")
			a.Close()
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	// Tests that look at pg_stat_activity tell their own connections from
	// those of tests running at the same time by it.
	q.Set("application_name", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// OpenPostgres opens a fresh store in a new schema of the database at
// USHER_TEST_POSTGRES_URL, dropped when the test ends. It skips the test
// when the variable is unset.
func OpenPostgres(t testing.TB, now func() time.Time) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), PostgresSchemaURL(t), now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// Clock is a settable time for tests of expiry: pass Now as a store's,
// service's or server's clock and Advance it.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock standing at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Links makes a tenant's links as https://<slug>.example/…, for tests that
// provision accounts (provision.Links).
type Links struct{}

// Activation is the activation link carrying secret.
func (Links) Activation(t usher.Tenant, secret string) string {
	return "https://" + t.Slug + ".example/activate#" + secret
}

// SignIn is the tenant's sign-in page.
func (Links) SignIn(t usher.Tenant) string { return "https://" + t.Slug + ".example/" }

// WantCode fails the test unless err is a usher error with code, on field
// unless field is "".
func WantCode(t testing.TB, err error, code usher.Code, field string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s on %q", code, field)
	}
	var ue *usher.Error
	if !errors.As(err, &ue) {
		t.Fatalf("got %v (%T), want a usher error %s", err, err, code)
	}
	if ue.Code != code || (field != "" && ue.Field != field) {
		t.Fatalf("got %s on %q (%v), want %s on %q", ue.Code, ue.Field, err, code, field)
	}
}

// Race runs n calls of fn at once and counts those that succeeded and
// those refused with refused; any other error fails the test.
func Race(t testing.TB, n int, refused error, fn func(i int) error) (ok, refusedN int) {
	t.Helper()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var other []error
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			err := fn(i)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, refused):
				refusedN++
			default:
				other = append(other, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(other) > 0 {
		t.Fatalf("unexpected errors (%d), first: %v", len(other), other[0])
	}
	return ok, refusedN
}

// UseSignupLink uses a sign-up link of tenantID in a write that also
// records a "test.registered" audit event, as a registration does with its
// account: counting those events shows that a refused use undid the whole
// write.
func UseSignupLink(ctx context.Context, st *store.Store, tenantID, linkID string) error {
	return st.Write(ctx, func(tx *store.Tx) error {
		if err := tx.InsertAudit(ctx, tenantID, &usher.AuditEvent{ActorKind: "system", Action: "test.registered", TargetKind: "signup_link", TargetID: linkID}); err != nil {
			return err
		}
		return tx.UseSignupLink(ctx, tenantID, linkID)
	})
}

package store_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/store/conformance"
)

func TestSQLite(t *testing.T) {
	conformance.RunTests(t, OpenSQLite)
}

func TestPostgres(t *testing.T) {
	if os.Getenv("USHER_TEST_POSTGRES_URL") == "" {
		t.Skip("USHER_TEST_POSTGRES_URL is not set: the PostgreSQL conformance suite did not run")
	}
	conformance.RunTests(t, OpenPostgres)
}

// OpenSQLite opens a fresh SQLite store in the test's temporary folder.
func OpenSQLite(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "usher.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// OpenPostgres opens a fresh store in a new schema of the database at
// USHER_TEST_POSTGRES_URL, dropped when the test ends.
func OpenPostgres(t *testing.T) *store.Store {
	t.Helper()
	base := os.Getenv("USHER_TEST_POSTGRES_URL")
	b := make([]byte, 6)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a, err := sql.Open("pgx", base)
		if err == nil {
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
	u.RawQuery = q.Encode()
	st, err := store.Open(context.Background(), u.String(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

package scim_test

import (
	"testing"

	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/store/storetest"
)

// cases is the SCIM suite: each runs on SQLite and on PostgreSQL.
var cases = map[string]func(*testing.T, *env){}

func TestSCIMSQLite(t *testing.T) {
	suite(t, func(t testing.TB) *store.Store { return storetest.OpenSQLite(t, nil) }, cases)
}

func TestSCIMPostgres(t *testing.T) {
	if storetest.PostgresURL() == "" {
		t.Skip("USHER_TEST_POSTGRES_URL is not set: the SCIM suite did not run on PostgreSQL")
	}
	suite(t, func(t testing.TB) *store.Store { return storetest.OpenPostgres(t, nil) }, cases)
}

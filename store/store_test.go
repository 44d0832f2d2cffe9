package store_test

import (
	"testing"

	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/store/conformance"
	"github.com/usherhq/usher/store/storetest"
)

func TestSQLite(t *testing.T) {
	conformance.RunTests(t, func(t *testing.T) *store.Store { return storetest.OpenSQLite(t, nil) })
}

func TestPostgres(t *testing.T) {
	if storetest.PostgresURL() == "" {
		t.Skip("USHER_TEST_POSTGRES_URL is not set: the PostgreSQL conformance suite did not run")
	}
	conformance.RunTests(t, func(t *testing.T) *store.Store { return storetest.OpenPostgres(t, nil) })
}

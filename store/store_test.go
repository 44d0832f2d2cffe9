package store_test

import (
	"testing"
	"time"

	"github.com/usherhq/usher/store"

	"github.com/usherhq/usher/store/conformance"
	"github.com/usherhq/usher/store/storetest"
)

func TestSQLite(t *testing.T) {
	conformance.RunTests(t, func(t *testing.T, now func() time.Time) *store.Store { return storetest.OpenSQLite(t, now) })
}

func TestPostgres(t *testing.T) {
	if storetest.PostgresURL() == "" {
		t.Skip("USHER_TEST_POSTGRES_URL is not set: the PostgreSQL conformance suite did not run")
	}
	conformance.RunTests(t, func(t *testing.T, now func() time.Time) *store.Store { return storetest.OpenPostgres(t, now) })
}

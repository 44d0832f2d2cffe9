package keys_test

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/openid/keys"
	"github.com/usherhq/usher/provision"
	"github.com/usherhq/usher/secret"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/store/storetest"
)

// TestResealSigningKeysSQLite (and Postgres): after a key rotation, the signing keys' private
// keys sealed with the old key are sealed anew with the new one.
func TestResealSigningKeysSQLite(t *testing.T) { testReseal(t, storetest.OpenSQLite(t, time.Now)) }

func TestResealSigningKeysPostgres(t *testing.T) {
	if storetest.PostgresURL() == "" {
		t.Skip("USHER_TEST_POSTGRES_URL is not set: the test did not run on PostgreSQL")
	}
	testReseal(t, storetest.OpenPostgres(t, time.Now))
}

func testReseal(t *testing.T, st *store.Store) {
	ctx := context.Background()
	op := usher.Actor{Kind: usher.ActorOperator, ID: "test", Role: usher.PrincipalOperator}
	tn, err := provision.New(st, time.Now, nil).CreateTenant(ctx, op, provision.TenantInput{Slug: "acme", Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	key := make([]byte, secret.KeySize)
	rand.Read(key)
	box, err := secret.NewBox(key)
	if err != nil {
		t.Fatal(err)
	}
	// The tenant's keys, sealed with the old key.
	if _, err := keys.New(st, box, time.Now, 90*24*time.Hour, time.Hour).Ring(ctx, tn.ID); err != nil {
		t.Fatal(err)
	}
	kept, _, err := st.Read().KeptSecrets(ctx, "openid_keys", "", 100)
	if err != nil || len(kept) == 0 {
		t.Fatalf("signing keys: %v %v", kept, err)
	}
	want := map[string]string{}
	for _, k := range kept {
		der, err := box.Open(k.Value, keys.KeyPurpose(k.TenantID, k.ID))
		if err != nil {
			t.Fatal(err)
		}
		want[k.Table+"/"+k.ID+"/"+k.Field] = string(der)
	}
	keyB := make([]byte, secret.KeySize)
	rand.Read(keyB)
	boxB, _ := secret.NewBox(keyB)
	rotated, _ := secret.NewBox(keyB, key)
	storetest.Reseal(t, st, []string{"openid_keys"}, want, boxB,
		func() (int, error) { return keys.Reseal(ctx, st, rotated) },
		func(k store.Kept) string { return keys.KeyPurpose(k.TenantID, k.ID) },
		func(tx *store.Tx, k store.Kept, v string) (bool, error) { return tx.ResealSigningKey(ctx, k, v) })
}

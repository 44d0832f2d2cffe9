package openid_test

import (
	"context"
	"crypto/rand"
	"testing"

	"github.com/usherhq/usher/openid"
	"github.com/usherhq/usher/secret"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/store/storetest"
)

// TestResealSigningKeys: after a key rotation, the signing keys' private
// keys sealed with the old key are sealed anew with the new one.
func TestResealSigningKeys(t *testing.T) {
	onEachDatabase(t, func(t *testing.T, w *world) {
		ctx := context.Background()
		w.jwks(t, w.issuer(w.tenant)) // the tenant's keys, sealed with the old key
		kept, _, err := w.st.Read().KeptSecrets(ctx, "openid_keys", "", 100)
		if err != nil || len(kept) == 0 {
			t.Fatalf("signing keys: %v %v", kept, err)
		}
		want := map[string]string{}
		for _, k := range kept {
			der, err := w.box.Open(k.Value, openid.KeyPurpose(k.TenantID, k.ID))
			if err != nil {
				t.Fatal(err)
			}
			want[k.Table+"/"+k.ID+"/"+k.Field] = string(der)
		}
		keyB := make([]byte, secret.KeySize)
		rand.Read(keyB)
		boxB, _ := secret.NewBox(keyB)
		rotated, _ := secret.NewBox(keyB, w.key)
		storetest.Reseal(t, w.st, []string{"openid_keys"}, want, boxB,
			func() (int, error) { return openid.Reseal(ctx, w.st, rotated) },
			func(k store.Kept) string { return openid.KeyPurpose(k.TenantID, k.ID) },
			func(tx *store.Tx, k store.Kept, v string) (bool, error) { return tx.ResealSigningKey(ctx, k, v) })
	})
}

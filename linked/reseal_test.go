package linked_test

import (
	"crypto/rand"
	"testing"

	"github.com/usherhq/usher/linked"
	"github.com/usherhq/usher/secret"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/store/storetest"
)

// TestReseal: after a key rotation, the external system's client secret,
// a link's tokens, its Exchange password kept plain from before sealing,
// and the link webhook's secret are sealed anew with the new key.
func TestReseal(t *testing.T) {
	each(t, func(t *testing.T, open opener) {
		e := newEnv(t, open)
		ann := e.account("ann@example.com")
		l, err := e.svc.Link(e.ctx, userAdm, e.tenant, linked.LinkInput{AccountID: ann.ID, ExternalSystemID: e.system.ID, Login: "ann@example.com"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.authorize(l, "ann@example.com", "ann-password"); err != nil {
			t.Fatal(err)
		}
		err = e.st.Write(e.ctx, func(tx *store.Tx) error {
			rec, err := tx.Link(e.ctx, e.tenant.ID, l.ID)
			if err != nil {
				return err
			}
			rec.Password = "kept plain"
			return tx.UpdateLink(e.ctx, e.tenant.ID, &rec, "")
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.SaveWebhook(e.ctx, tenantAdm, e.tenant, linked.WebhookInput{URL: "http://127.0.0.1:1/hook"}); err != nil {
			t.Fatal(err)
		}
		purposeOf := func(k store.Kept) string {
			if k.Table == "link_webhooks" {
				return "link-webhook-secret/" + k.TenantID
			}
			return map[string]string{"client_secret": "external-system-client-secret", "access_token": "link-access-token",
				"refresh_token": "link-refresh-token", "password": "link-exchange-password"}[k.Field] + "/" + k.TenantID + "/" + k.ID
		}
		tables := []string{"external_systems", "links", "link_webhooks"}
		want := map[string]string{}
		for _, table := range tables {
			kept, _, err := e.st.Read().KeptSecrets(e.ctx, table, "", 100)
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range kept {
				want[k.Table+"/"+k.ID+"/"+k.Field] = e.reveal(k.Value, purposeOf(k))
			}
		}
		if len(want) != 5 {
			t.Fatalf("secrets kept: %v", want)
		}
		keyB := make([]byte, secret.KeySize)
		rand.Read(keyB)
		boxB, _ := secret.NewBox(keyB)
		rotated, _ := secret.NewBox(keyB, e.key)
		storetest.Reseal(t, e.st, tables, want, boxB,
			func() (int, error) { return linked.Reseal(e.ctx, e.st, rotated) }, purposeOf,
			func(tx *store.Tx, k store.Kept, v string) (bool, error) { return tx.ResealLinkedSecret(e.ctx, k, v) })
	})
}

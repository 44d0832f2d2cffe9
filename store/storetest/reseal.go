package storetest

import (
	"context"
	"testing"

	"github.com/usherhq/usher/secret"
	"github.com/usherhq/usher/store"
)

// Reseal checks a package's re-sealing after a key rotation. The secrets
// kept in tables were sealed with an old key (or kept plain); want is
// each one's plain value by Table/ID/Field. reseal runs the package's
// Reseal with a box of the new key and the old; afterwards every secret
// opens for purpose with current, the new key alone, and a second run
// changes nothing. write is the package's guarded replacement: a secret
// changed between its reading and its writing is not overwritten.
func Reseal(t *testing.T, st *store.Store, tables []string, want map[string]string, current *secret.Box,
	reseal func() (int, error), purpose func(store.Kept) string, write func(*store.Tx, store.Kept, string) (bool, error)) {
	t.Helper()
	ctx := context.Background()
	if n, err := reseal(); err != nil || n != len(want) {
		t.Fatalf("reseal: %d changed, want %d; %v", n, len(want), err)
	}
	var kept []store.Kept
	for _, table := range tables {
		for after := ""; ; {
			page, next, err := st.Read().KeptSecrets(ctx, table, after, 2)
			if err != nil {
				t.Fatal(err)
			}
			kept = append(kept, page...)
			if next == "" {
				break
			}
			after = next
		}
	}
	if len(kept) != len(want) {
		t.Fatalf("%d secrets kept, want %d: %+v", len(kept), len(want), kept)
	}
	for _, k := range kept {
		plain, err := current.Open(k.Value, purpose(k))
		if w, ok := want[k.Table+"/"+k.ID+"/"+k.Field]; err != nil || !ok || string(plain) != w {
			t.Errorf("%s/%s/%s after re-sealing: %q, want %q; %v", k.Table, k.ID, k.Field, plain, w, err)
		}
	}
	if n, err := reseal(); err != nil || n != 0 {
		t.Fatalf("second reseal: %d changed; %v", n, err)
	}
	// Changed since it was read: what was read is no longer there.
	for _, k := range kept {
		read := k
		read.Value = current.Seal([]byte("read before a change"), purpose(k))
		err := st.Write(ctx, func(tx *store.Tx) error {
			if ok, err := write(tx, read, current.Seal([]byte("overwritten"), purpose(k))); err != nil || ok {
				t.Errorf("%s/%s/%s changed since it was read: replaced %v; %v", k.Table, k.ID, k.Field, ok, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, table := range tables {
		page, _, err := st.Read().KeptSecrets(ctx, table, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range page {
			if plain, err := current.Open(k.Value, purpose(k)); err != nil || string(plain) != want[k.Table+"/"+k.ID+"/"+k.Field] {
				t.Errorf("%s/%s/%s was overwritten: %q %v", k.Table, k.ID, k.Field, plain, err)
			}
		}
	}
}

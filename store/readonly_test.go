package store_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/usherhq/usher"
	"github.com/usherhq/usher/store"
	"github.com/usherhq/usher/store/storetest"
)

func TestReadRefusesWritesSQLite(t *testing.T) {
	testReadRefusesWrites(t, storetest.OpenSQLite(t, nil))
}

func TestReadRefusesWritesPostgres(t *testing.T) {
	testReadRefusesWrites(t, storetest.OpenPostgres(t, nil))
}

// testReadRefusesWrites: a Tx from Read is no transaction, so every way a
// write could reach the database through it — Exec, a query with
// RETURNING, a write method of Tx — fails with ErrReadOnly and changes
// nothing, and the read pool still reads afterwards.
func testReadRefusesWrites(t *testing.T, st *store.Store) {
	ctx := context.Background()
	tn := usher.Tenant{Slug: "kept", Name: "Kept"}
	if err := st.Write(ctx, func(tx *store.Tx) error { return tx.InsertTenant(ctx, &tn) }); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	insert := `INSERT INTO tenants (id, slug, name, internal_org_id, settings, created_at, updated_at) VALUES ($1, $2, 'X', $3, '{}', $4, $4)`
	refused := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, store.ErrReadOnly) {
			t.Errorf("%s on Read(): got %v, want ErrReadOnly", what, err)
			return
		}
		if !strings.Contains(err.Error(), "outside a transaction") {
			t.Errorf("%s on Read(): the error does not say what happened: %v", what, err)
		}
	}

	r := st.Read()
	_, err := r.ExecContext(ctx, insert, store.NewID(), "exec", store.NewID(), now)
	refused("Exec INSERT", err)
	_, err = r.ExecContext(ctx, `UPDATE tenants SET name = 'Changed' WHERE id = $1`, tn.ID)
	refused("Exec UPDATE", err)
	_, err = r.ExecContext(ctx, `DELETE FROM tenants WHERE id = $1`, tn.ID)
	refused("Exec DELETE", err)

	// The refusal may come with the query or with its first row.
	rows, err := r.QueryContext(ctx, insert+` RETURNING id`, store.NewID(), "query", store.NewID(), now)
	if err == nil {
		for rows.Next() {
			t.Error("Query INSERT … RETURNING on Read() returned a row")
		}
		err = rows.Err()
		rows.Close()
	}
	refused("Query INSERT … RETURNING", err)
	var id string
	refused("QueryRow INSERT … RETURNING", r.QueryRowContext(ctx, insert+` RETURNING id`, store.NewID(), "queryrow", store.NewID(), now).Scan(&id))

	other := usher.Tenant{Slug: "method", Name: "Method"}
	refused("Tx.InsertTenant", r.InsertTenant(ctx, &other))
	changed := tn
	changed.Name = "Changed"
	refused("Tx.UpdateTenant", r.UpdateTenant(ctx, &changed))
	refused("Tx.InsertAudit", r.InsertAudit(ctx, tn.ID, &usher.AuditEvent{ActorKind: "test", Action: "read.write"}))

	// Nothing changed, and the read pool still reads, also with the
	// methods that lock their row inside a write.
	if _, err := st.Read().Tenant(ctx, tn.ID); err != nil {
		t.Errorf("Tenant on Read(): %v", err)
	}
	list, _, err := st.Read().Tenants(ctx, store.ListOptions{})
	if err != nil {
		t.Fatalf("reading after the refusals: %v", err)
	}
	var got []string
	for _, x := range list {
		got = append(got, x.Slug+" "+x.Name)
	}
	if len(list) != 1 || list[0].ID != tn.ID || list[0].Name != "Kept" {
		t.Errorf("tenants after the refused writes: %q, want only \"kept Kept\"", got)
	}
	events, _, err := st.Read().AuditEvents(ctx, tn.ID, store.AuditFilter{}, store.ListOptions{})
	if err != nil || len(events) != 0 {
		t.Errorf("audit events after the refused write: %d (%v), want none", len(events), err)
	}
}

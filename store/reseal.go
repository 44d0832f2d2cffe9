package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
)

// Kept is one secret as its row keeps it (sealed, or plain from before a
// key was configured), read to be sealed anew with the current key.
type Kept struct {
	Table    string // "connections", "openid_keys", "external_systems", "links", "link_webhooks"
	TenantID string
	ID       string // the row's id; "" for a link webhook, which is the tenant's
	Field    string // which of the row's secrets: "client_secret", "sp_key", "private_key", "access_token", ...
	Value    string
}

// keptQueries read a page of each table's secrets: the row's key (the
// cursor), its tenant and its secret columns.
var keptQueries = map[string]string{
	"connections":      `SELECT id, tenant_id, config FROM connections WHERE id > $1 ORDER BY id LIMIT $2`,
	"external_systems": `SELECT id, tenant_id, config FROM external_systems WHERE id > $1 ORDER BY id LIMIT $2`,
	"openid_keys":      `SELECT id, tenant_id, private_key FROM openid_keys WHERE id > $1 ORDER BY id LIMIT $2`,
	"links":            `SELECT id, tenant_id, access_token, refresh_token, password FROM links WHERE id > $1 ORDER BY id LIMIT $2`,
	"link_webhooks":    `SELECT tenant_id, tenant_id, secret FROM link_webhooks WHERE tenant_id > $1 ORDER BY tenant_id LIMIT $2`,
}

// KeptSecrets reads the secrets of up to n rows of table after the cursor
// after ("" from the start), skipping empty ones; next is the cursor of
// the following page, "" after the last.
func (t *Tx) KeptSecrets(ctx context.Context, table, after string, n int) (kept []Kept, next string, err error) {
	query, ok := keptQueries[table]
	if !ok {
		return nil, "", fmt.Errorf("kept secrets: no secrets are kept in %q", table)
	}
	rows, err := t.QueryContext(ctx, query, after, n)
	if err != nil {
		return nil, "", fmt.Errorf("read kept secrets of %s: %w", table, err)
	}
	defer rows.Close()
	rowsRead := 0
	for rows.Next() {
		rowsRead++
		var key, tenant string
		var fields []string
		var vals []string
		switch table {
		case "links":
			fields, vals = []string{"access_token", "refresh_token", "password"}, make([]string, 3)
			err = rows.Scan(&key, &tenant, &vals[0], &vals[1], &vals[2])
		case "connections", "external_systems":
			var cfg string
			if err = rows.Scan(&key, &tenant, &cfg); err == nil {
				fields, vals, err = configSecrets(table, cfg)
			}
		default:
			fields, vals = []string{map[string]string{"openid_keys": "private_key", "link_webhooks": "secret"}[table]}, make([]string, 1)
			err = rows.Scan(&key, &tenant, &vals[0])
		}
		if err != nil {
			return nil, "", fmt.Errorf("read kept secrets of %s: %w", table, err)
		}
		id := key
		if table == "link_webhooks" {
			id = ""
		}
		for i, f := range fields {
			if vals[i] != "" {
				kept = append(kept, Kept{Table: table, TenantID: tenant, ID: id, Field: f, Value: vals[i]})
			}
		}
		next = key
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("read kept secrets of %s: %w", table, err)
	}
	if rowsRead < n {
		next = ""
	}
	return kept, next, nil
}

// configSecrets are the secrets kept in a connection's or an external
// system's JSON configuration.
func configSecrets(table, cfg string) (fields, vals []string, err error) {
	if table == "connections" {
		var k connConfig
		err = json.Unmarshal([]byte(cfg), &k)
		return []string{"client_secret", "sp_key"}, []string{k.ClientSecret, k.SPKey}, err
	}
	var k extConfig
	err = json.Unmarshal([]byte(cfg), &k)
	return []string{"client_secret"}, []string{k.ClientSecret}, err
}

// ResealConnectionSecret replaces a connection's client secret or SAML SP
// key with resealed, the same secret sealed anew, unless it is no longer
// k.Value (changed since it was read): ok reports whether it was replaced.
func (t *Tx) ResealConnectionSecret(ctx context.Context, k Kept, resealed string) (ok bool, err error) {
	if k.Table != "connections" {
		return false, fmt.Errorf("reseal connection secret: %s is not a connection's", k.Table)
	}
	return t.resealConfig(ctx, k, `SELECT config FROM connections WHERE tenant_id = $1 AND id = $2`,
		`UPDATE connections SET config = $3 WHERE tenant_id = $1 AND id = $2 AND config = $4`,
		func(cfg string) (string, bool, error) {
			var c connConfig
			if err := json.Unmarshal([]byte(cfg), &c); err != nil {
				return "", false, fmt.Errorf("connection %s config: %w", k.ID, err)
			}
			f := map[string]*string{"client_secret": &c.ClientSecret, "sp_key": &c.SPKey}[k.Field]
			if f == nil {
				return "", false, fmt.Errorf("reseal connection secret: a connection keeps no %q", k.Field)
			}
			if *f != k.Value {
				return "", false, nil
			}
			*f = resealed
			b, err := json.Marshal(c)
			return string(b), true, err
		})
}

// ResealSigningKey replaces an OpenID signing key's sealed private key
// with resealed unless it is no longer k.Value: ok reports whether it was.
func (t *Tx) ResealSigningKey(ctx context.Context, k Kept, resealed string) (ok bool, err error) {
	if k.Table != "openid_keys" || k.Field != "private_key" {
		return false, fmt.Errorf("reseal signing key: %s.%s is not a signing key", k.Table, k.Field)
	}
	return changed(t.ExecContext(ctx, `UPDATE openid_keys SET private_key = $3 WHERE tenant_id = $1 AND id = $2 AND private_key = $4`,
		k.TenantID, k.ID, resealed, k.Value))
}

// ResealLinkedSecret replaces a secret of linked accounts (an external
// system's client secret, a link's tokens or Exchange password, the link
// webhook's secret) with resealed unless it is no longer k.Value: ok
// reports whether it was.
func (t *Tx) ResealLinkedSecret(ctx context.Context, k Kept, resealed string) (ok bool, err error) {
	switch k.Table + "." + k.Field {
	case "external_systems.client_secret":
		return t.resealConfig(ctx, k, `SELECT config FROM external_systems WHERE tenant_id = $1 AND id = $2`,
			`UPDATE external_systems SET config = $3 WHERE tenant_id = $1 AND id = $2 AND config = $4`,
			func(cfg string) (string, bool, error) {
				var x extConfig
				if err := json.Unmarshal([]byte(cfg), &x); err != nil {
					return "", false, fmt.Errorf("external system %s config: %w", k.ID, err)
				}
				if x.ClientSecret != k.Value {
					return "", false, nil
				}
				x.ClientSecret = resealed
				b, err := json.Marshal(x)
				return string(b), true, err
			})
	case "links.access_token":
		return changed(t.ExecContext(ctx, `UPDATE links SET access_token = $3 WHERE tenant_id = $1 AND id = $2 AND access_token = $4`,
			k.TenantID, k.ID, resealed, k.Value))
	case "links.refresh_token":
		return changed(t.ExecContext(ctx, `UPDATE links SET refresh_token = $3 WHERE tenant_id = $1 AND id = $2 AND refresh_token = $4`,
			k.TenantID, k.ID, resealed, k.Value))
	case "links.password":
		return changed(t.ExecContext(ctx, `UPDATE links SET password = $3 WHERE tenant_id = $1 AND id = $2 AND password = $4`,
			k.TenantID, k.ID, resealed, k.Value))
	case "link_webhooks.secret":
		return changed(t.ExecContext(ctx, `UPDATE link_webhooks SET secret = $2 WHERE tenant_id = $1 AND secret = $3`,
			k.TenantID, resealed, k.Value))
	}
	return false, fmt.Errorf("reseal linked secret: %s.%s is not one of linked's secrets", k.Table, k.Field)
}

// resealConfig replaces a secret kept in a row's JSON configuration
// (read by get, written by set with the old configuration as guard): swap
// makes the new configuration, or says the secret is no longer the one read.
func (t *Tx) resealConfig(ctx context.Context, k Kept, get, set string, swap func(cfg string) (string, bool, error)) (bool, error) {
	var cfg string
	if err := t.QueryRowContext(ctx, get+t.forUpdate(), k.TenantID, k.ID).Scan(&cfg); notFound(err) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("reseal %s.%s: %w", k.Table, k.Field, err)
	}
	updated, ok, err := swap(cfg)
	if err != nil || !ok {
		return false, err
	}
	return changed(t.ExecContext(ctx, set, k.TenantID, k.ID, updated, cfg))
}

// changed reports whether a guarded update wrote its row.
func changed(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, fmt.Errorf("reseal: %w", err)
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// resealPage is how many rows a re-sealing reads at a time, and writes in
// one transaction.
const resealPage = 100

// ResealKept walks the secrets kept in tables page by page: reseal says
// what each should be kept as now (changed false: nothing to do), write
// replaces it in the transaction of its page, guarded against a change
// since it was read (its owner's Reseal method of Tx). It returns how many
// were replaced; a secret reseal fails on (one no configured key opens) is
// passed over, and the first such failure is returned after the rest.
func (s *Store) ResealKept(ctx context.Context, tables []string, reseal func(Kept) (string, bool, error),
	write func(*Tx, Kept, string) (bool, error)) (int, error) {
	total, failed := 0, 0
	var firstErr error
	for _, table := range tables {
		for after := ""; ; {
			kept, next, err := s.Read().KeptSecrets(ctx, table, after, resealPage)
			if err != nil {
				return total, err
			}
			type change struct {
				k     Kept
				value string
			}
			var changes []change
			for _, k := range kept {
				v, ok, err := reseal(k)
				if err != nil {
					failed++
					if firstErr == nil {
						firstErr = fmt.Errorf("%s %s of tenant %s (%s): %w", table, k.ID, k.TenantID, k.Field, err)
					}
					continue
				}
				if ok {
					changes = append(changes, change{k, v})
				}
			}
			if len(changes) > 0 {
				n := 0
				err := s.Write(ctx, func(tx *Tx) error {
					n = 0
					for _, c := range changes {
						ok, err := write(tx, c.k, c.value)
						if err != nil {
							return err
						}
						if ok {
							n++
						}
					}
					return nil
				})
				if err != nil {
					return total, err
				}
				total += n
			}
			if next == "" {
				break
			}
			after = next
		}
	}
	if firstErr != nil {
		return total, fmt.Errorf("%d secrets could not be re-sealed, the first: %w", failed, firstErr)
	}
	return total, nil
}

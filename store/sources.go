package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/usherhq/usher"
)

// SourceUser is a user as its provisioning source last described it: the
// source's document (SCIM's JSON), kept so that what usher does not model
// is given back as the source sent it.
type SourceUser struct {
	AccountID string
	SourceID  string
	// Emails are every email of the description, lowercased, for lookups.
	Emails    []string
	Data      string
	UpdatedAt time.Time
}

func emailList(emails []string) string {
	if len(emails) == 0 {
		return ""
	}
	return "," + strings.Join(emails, ",") + ","
}

// InsertSourceUser stores a new account's description by its source. In a
// group of creations on PostgreSQL the rows go in one statement.
func (t *Tx) InsertSourceUser(ctx context.Context, tenant string, u *SourceUser) error {
	u.UpdatedAt = t.now
	err := t.insertThen(ctx, func(_ int64, err error) error {
		if err != nil {
			return fmt.Errorf("insert source user: %w", err)
		}
		return nil
	}, `INSERT INTO source_users (account_id, tenant_id, source_id, emails, data, updated_at) VALUES `, ``, 6,
		u.AccountID, tenant, u.SourceID, emailList(u.Emails), u.Data, t.now)
	if err != nil {
		return err
	}
	return t.insertSourceEmails(ctx, tenant, u)
}

// insertSourceEmails stores a row per distinct email of u, for lookups by
// email (AccountIDsByEmail).
func (t *Tx) insertSourceEmails(ctx context.Context, tenant string, u *SourceUser) error {
	var args []any
	seen := map[string]bool{}
	for _, e := range u.Emails {
		if e != "" && !seen[e] {
			seen[e] = true
			args = append(args, tenant, e, u.AccountID)
		}
	}
	if len(args) == 0 {
		return nil
	}
	return t.insertThen(ctx, func(_ int64, err error) error {
		if err != nil {
			return fmt.Errorf("insert source user's emails: %w", err)
		}
		return nil
	}, `INSERT INTO source_user_emails (tenant_id, email, account_id) VALUES `, ``, 3, args...)
}

// PutSourceUser stores or replaces an account's description by its source.
func (t *Tx) PutSourceUser(ctx context.Context, tenant string, u *SourceUser) error {
	u.UpdatedAt = t.now
	_, err := t.ExecContext(ctx, `INSERT INTO source_users (account_id, tenant_id, source_id, emails, data, updated_at) VALUES ($1,$2,$3,$4,$5,$6)
		ON CONFLICT (account_id) DO UPDATE SET source_id = $3, emails = $4, data = $5, updated_at = $6`,
		u.AccountID, tenant, u.SourceID, emailList(u.Emails), u.Data, t.now)
	if err != nil {
		return fmt.Errorf("store source user: %w", err)
	}
	if _, err := t.ExecContext(ctx, `DELETE FROM source_user_emails WHERE account_id = $1`, u.AccountID); err != nil {
		return fmt.Errorf("store source user's emails: %w", err)
	}
	return t.insertSourceEmails(ctx, tenant, u)
}

// UserRecord is what describes an account to a provisioning source: the
// account, its person and, if a source sent one, its description.
type UserRecord struct {
	Account usher.Account
	Person  usher.Person
	Source  *SourceUser
}

// userRecordCols and userRecordFrom read UserRecords in one statement: a
// SCIM lookup then costs one round trip instead of three. The CROSS JOIN
// fixes the order of the joins (in SQLite; PostgreSQL plans it like any
// join): from the accounts asked for to their persons. Left to choose,
// SQLite read every person of the tenant by its index on tenant_id to
// find one account's (seconds a lookup in a tenant of 50,000).
var userRecordCols = prefixed("a.", accountCols) + `, ` + prefixed("p.", personCols) + `,
		s.source_id, s.emails, s.data, s.updated_at`

const (
	userRecordFrom = ` accounts a CROSS JOIN persons p
	LEFT JOIN source_users s ON s.account_id = a.id AND s.tenant_id = a.tenant_id`
	userRecordPerson = `p.id = a.person_id AND p.tenant_id = a.tenant_id`
)

func (t *Tx) scanUserRecord(r scanner) (UserRecord, error) {
	var u UserRecord
	var deact sql.NullTime
	var source, emails, data sql.NullString
	var updated sql.NullTime
	extra := append(personDest(&u.Person, &deact), &source, &emails, &data, &updated)
	a, err := t.scanAccount(extraScanner{r, extra})
	u.Account = a
	finishPerson(&u.Person, deact)
	if source.Valid {
		u.Source = &SourceUser{AccountID: a.ID, SourceID: source.String, Emails: splitList(strings.Trim(emails.String, ",")),
			Data: data.String, UpdatedAt: updated.Time.UTC()}
	}
	return u, err
}

// UserRecords returns the given accounts of tenant with their persons and
// descriptions, by account id.
func (t *Tx) UserRecords(ctx context.Context, tenant string, ids []string) (map[string]UserRecord, error) {
	return byIDs(ctx, t, `SELECT `+userRecordCols+` FROM`+userRecordFrom, userRecordPerson, "a.id", tenant, ids, t.scanUserRecord,
		func(u UserRecord) string { return u.Account.ID })
}

// UserRecordByLogin finds the account whose email, username or phone is
// login (already normalized), with its person and description.
func (t *Tx) UserRecordByLogin(ctx context.Context, tenant, login string) (UserRecord, error) {
	u, err := t.scanUserRecord(t.QueryRowContext(ctx, userRecordByLoginSQL, tenant, login))
	if notFound(err) {
		return u, usher.NotFound("identifier", "account")
	}
	return u, err
}

// userRecordByLoginSQL is UserRecordByLogin's statement.
var userRecordByLoginSQL = `SELECT ` + userRecordCols + ` FROM login_ids l CROSS JOIN` + userRecordFrom + `
	WHERE l.tenant_id = $1 AND l.value = $2 AND a.id = l.account_id AND a.tenant_id = l.tenant_id AND ` + userRecordPerson

// byIDs reads the rows of tenant whose column is one of ids, by key; join,
// if any, is a condition joining the query's tables.
func byIDs[T any](ctx context.Context, t *Tx, query, join, column, tenant string, ids []string, scan func(scanner) (T, error), key func(T) string) (map[string]T, error) {
	out := make(map[string]T, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	w := &where{}
	// A joined query names its table: "a.id" asks for "a.tenant_id".
	w.add(column[:strings.LastIndex(column, ".")+1]+"tenant_id = ?", tenant)
	if join != "" {
		w.add(join)
	}
	in := make([]string, len(ids))
	for i, id := range ids {
		in[i] = w.next(id)
	}
	rows, err := t.QueryContext(ctx, query+w.sql()+` AND `+column+` IN (`+strings.Join(in, ",")+`)`, w.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		x, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out[key(x)] = x
	}
	return out, rows.Err()
}

// AccountIDsByEmail returns the accounts of tenant that email (normalized)
// signs in to, that belong to a person with that email, or whose source
// described them with it, in id order.
func (t *Tx) AccountIDsByEmail(ctx context.Context, tenant, email string) ([]string, error) {
	return t.ids(ctx, accountIDsByEmailSQL, tenant, email)
}

// accountIDsByEmailSQL searches three indexes; the CROSS JOIN keeps
// SQLite from scanning the accounts to find a person's, and naming a
// non-empty email lets the partial index of persons by email serve.
const accountIDsByEmailSQL = `SELECT account_id FROM login_ids WHERE tenant_id = $1 AND value = $2
		UNION SELECT a.id FROM persons p CROSS JOIN accounts a WHERE p.tenant_id = $1 AND p.email = $2 AND p.email <> '' AND a.tenant_id = p.tenant_id AND a.person_id = p.id
		UNION SELECT account_id FROM source_user_emails WHERE tenant_id = $1 AND email = $2
		ORDER BY 1`

// AccountIDsByExternalID returns the accounts of tenant whose person has
// the external id, in id order.
func (t *Tx) AccountIDsByExternalID(ctx context.Context, tenant, externalID string) ([]string, error) {
	return t.ids(ctx, `SELECT a.id FROM persons p JOIN accounts a ON a.person_id = p.id
		WHERE p.tenant_id = $1 AND p.external_id = $2 ORDER BY 1`, tenant, externalID)
}

// AccountIDs returns the ids of tenant's accounts that are not
// deactivated, in id order: offset skipped, at most limit (0: all).
func (t *Tx) AccountIDs(ctx context.Context, tenant string, offset, limit int) ([]string, error) {
	q := `SELECT id FROM accounts WHERE tenant_id = $1 AND state <> 'deactivated' ORDER BY id`
	args := []any{tenant}
	if limit > 0 {
		q += ` LIMIT $2 OFFSET $3`
		args = append(args, limit, offset)
	}
	return t.ids(ctx, q, args...)
}

// CountAccounts counts tenant's accounts that are not deactivated.
func (t *Tx) CountAccounts(ctx context.Context, tenant string) (int, error) {
	var n int
	err := t.QueryRowContext(ctx, `SELECT count(*) FROM accounts WHERE tenant_id = $1 AND state <> 'deactivated'`, tenant).Scan(&n)
	return n, err
}

// AccountsByID returns the given accounts of tenant, by id.
func (t *Tx) AccountsByID(ctx context.Context, tenant string, ids []string) (map[string]usher.Account, error) {
	return byIDs(ctx, t, `SELECT `+accountCols+` FROM accounts`, "", "id", tenant, ids, t.scanAccount, func(a usher.Account) string { return a.ID })
}

// PersonsByID returns the given persons of tenant, by id.
func (t *Tx) PersonsByID(ctx context.Context, tenant string, ids []string) (map[string]usher.Person, error) {
	return byIDs(ctx, t, `SELECT `+personCols+` FROM persons`, "", "id", tenant, ids, scanPerson, func(p usher.Person) string { return p.ID })
}

// AttributesByID returns the given catalogue entries of tenant, of any kind
// and deactivated too, by id.
func (t *Tx) AttributesByID(ctx context.Context, tenant string, ids []string) (map[string]usher.Attribute, error) {
	return byIDs(ctx, t, `SELECT `+attrCols+` FROM attributes`, "", "id", tenant, ids, scanAttr, func(a usher.Attribute) string { return a.ID })
}

// AttributesByName returns tenant's active entries of kind whose name is
// name, compared without case, oldest first.
func (t *Tx) AttributesByName(ctx context.Context, tenant, kind, name string) ([]usher.Attribute, error) {
	rows, err := t.QueryContext(ctx, `SELECT `+attrCols+` FROM attributes WHERE tenant_id = $1 AND kind = $2 AND lower(name) = $3
		AND deactivated_at IS NULL ORDER BY id`, tenant, kind, strings.ToLower(name))
	if err != nil {
		return nil, fmt.Errorf("find %s by name: %w", kind, err)
	}
	defer rows.Close()
	var out []usher.Attribute
	for rows.Next() {
		a, err := scanAttr(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// AttributeByKey returns tenant's entry of kind with the key.
func (t *Tx) AttributeByKey(ctx context.Context, tenant, kind, key string) (usher.Attribute, error) {
	a, err := scanAttr(t.QueryRowContext(ctx, `SELECT `+attrCols+` FROM attributes WHERE tenant_id = $1 AND kind = $2 AND key = $3`, tenant, kind, key))
	if notFound(err) {
		return a, usher.NotFound("key", kindNoun(kind))
	}
	return a, err
}

// AttributeIDs returns the ids of tenant's active entries of kind, in id
// order: offset skipped, at most limit (0: all).
func (t *Tx) AttributeIDs(ctx context.Context, tenant, kind string, offset, limit int) ([]string, error) {
	q := `SELECT id FROM attributes WHERE tenant_id = $1 AND kind = $2 AND deactivated_at IS NULL ORDER BY id`
	args := []any{tenant, kind}
	if limit > 0 {
		q += ` LIMIT $3 OFFSET $4`
		args = append(args, limit, offset)
	}
	return t.ids(ctx, q, args...)
}

// CountAttributes counts tenant's active entries of kind.
func (t *Tx) CountAttributes(ctx context.Context, tenant, kind string) (int, error) {
	var n int
	err := t.QueryRowContext(ctx, `SELECT count(*) FROM attributes WHERE tenant_id = $1 AND kind = $2 AND deactivated_at IS NULL`, tenant, kind).Scan(&n)
	return n, err
}

// GroupMemberIDs returns the accounts of tenant, not deactivated, that are
// members of group (as their primary group or another), in id order.
func (t *Tx) GroupMemberIDs(ctx context.Context, tenant, group string) ([]string, error) {
	return t.ids(ctx, `SELECT id FROM accounts WHERE tenant_id = $1 AND state <> 'deactivated'
		AND (primary_group_id = $2 OR ',' || group_ids || ',' LIKE $3) ORDER BY id`, tenant, group, "%,"+group+",%")
}

// SourceMember is a group membership a provisioning source gave.
type SourceMember struct {
	AccountID, SourceID, Display string
}

// SourceMembers returns the memberships of group that sources gave, by account.
func (t *Tx) SourceMembers(ctx context.Context, tenant, group string) (map[string]SourceMember, error) {
	rows, err := t.QueryContext(ctx, `SELECT account_id, source_id, display FROM source_members WHERE tenant_id = $1 AND group_id = $2`, tenant, group)
	if err != nil {
		return nil, fmt.Errorf("read source members: %w", err)
	}
	defer rows.Close()
	out := map[string]SourceMember{}
	for rows.Next() {
		var m SourceMember
		if err := rows.Scan(&m.AccountID, &m.SourceID, &m.Display); err != nil {
			return nil, err
		}
		out[m.AccountID] = m
	}
	return out, rows.Err()
}

// PutSourceMember records that a source gave account membership of group.
func (t *Tx) PutSourceMember(ctx context.Context, tenant, group string, m SourceMember) error {
	_, err := t.ExecContext(ctx, `INSERT INTO source_members (tenant_id, group_id, account_id, source_id, display) VALUES ($1,$2,$3,$4,$5)
		ON CONFLICT (group_id, account_id) DO UPDATE SET source_id = $4, display = $5`, tenant, group, m.AccountID, m.SourceID, m.Display)
	if err != nil {
		return fmt.Errorf("store source member: %w", err)
	}
	return nil
}

// DeleteSourceMember forgets that a source gave account membership of group.
func (t *Tx) DeleteSourceMember(ctx context.Context, tenant, group, account string) error {
	_, err := t.ExecContext(ctx, `DELETE FROM source_members WHERE tenant_id = $1 AND group_id = $2 AND account_id = $3`, tenant, group, account)
	if err != nil {
		return fmt.Errorf("remove source member: %w", err)
	}
	return nil
}

// PlanNames returns tenant's plans by id with their keys and names, but
// not their seats used: counting a big plan's seats reads all of them.
func (t *Tx) PlanNames(ctx context.Context, tenant string) (map[string]usher.Plan, error) {
	rows, err := t.QueryContext(ctx, `SELECT id, key, name, seats, deactivated_at FROM plans WHERE tenant_id = $1`, tenant)
	if err != nil {
		return nil, fmt.Errorf("read plans: %w", err)
	}
	defer rows.Close()
	out := map[string]usher.Plan{}
	for rows.Next() {
		p := usher.Plan{TenantID: tenant}
		var deact sql.NullTime
		if err := rows.Scan(&p.ID, &p.Key, &p.Name, &p.Seats, &deact); err != nil {
			return nil, err
		}
		p.DeactivatedAt = ptrTime(deact)
		out[p.ID] = p
	}
	return out, rows.Err()
}

// ids runs a query of one text column.
func (t *Tx) ids(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := t.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

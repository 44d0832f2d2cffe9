package store

import (
	"context"
	"database/sql"
	"fmt"
	mrand "math/rand/v2"
	"strconv"
	"strings"

	"github.com/usherhq/usher"
)

const accountCols = `id, tenant_id, person_id, identity_id, state, auth_system, connection_id, email, username, phone, role_id, plan_id,
	primary_group_id, group_ids, admin_role, language, managed_by, created_at, updated_at, activated_at, deactivated_at, invite_expires_at`

// scanAccount reads an account and derives its invitation state at t's time.
func (t *Tx) scanAccount(r scanner) (usher.Account, error) {
	var a usher.Account
	var groups string
	var act, deact, invite sql.NullTime
	err := r.Scan(&a.ID, &a.TenantID, &a.PersonID, &a.IdentityID, &a.State, &a.AuthSystem, &a.ConnectionID, &a.Email, &a.Username, &a.Phone,
		&a.RoleID, &a.PlanID, &a.PrimaryGroupID, &groups, &a.AdminRole, &a.Language, &a.ManagedBy, &a.CreatedAt, &a.UpdatedAt, &act, &deact, &invite)
	a.GroupIDs = splitList(groups)
	a.ActivatedAt, a.DeactivatedAt, a.InviteExpiresAt = ptrTime(act), ptrTime(deact), ptrTime(invite)
	a.CreatedAt, a.UpdatedAt = a.CreatedAt.UTC(), a.UpdatedAt.UTC()
	if a.State == usher.StateInvited {
		a.Invitation = usher.InvitationExpired
		if a.InviteExpiresAt != nil && a.InviteExpiresAt.After(t.now) {
			a.Invitation = usher.InvitationPending
		}
	}
	return a, err
}

// LoginIDs returns the login identifiers of a, normalized, keyed by kind.
func LoginIDs(a *usher.Account) map[string]string {
	ids := map[string]string{}
	if a.Email != "" {
		ids[usher.FieldEmail] = a.Email
	}
	if a.Username != "" {
		ids[usher.FieldUsername] = strings.ToLower(a.Username)
	}
	if a.Phone != "" {
		ids[usher.FieldPhone] = a.Phone
	}
	return ids
}

// InsertAccount stores a with its login identifiers. It does not claim a
// seat: the caller claims one with ClaimSeat in the same transaction. A login
// identifier already used in the tenant is a conflict naming its field; a
// second account for the same person is a conflict on "person_id".
func (t *Tx) InsertAccount(ctx context.Context, tenant string, a *usher.Account) error {
	if a.ID == "" {
		a.ID = NewID()
	}
	a.TenantID, a.CreatedAt, a.UpdatedAt = tenant, t.now, t.now
	if a.GroupIDs == nil {
		a.GroupIDs = []string{}
	}
	err := t.insertThen(ctx, func(n int64, err error) error {
		if err != nil {
			return fmt.Errorf("insert account: %w", err)
		}
		if n == 0 {
			return usher.Conflict("person_id", "the person already has an account")
		}
		return nil
	}, `INSERT INTO accounts (`+accountCols+`) VALUES `, ` ON CONFLICT DO NOTHING`, 22,
		a.ID, tenant, a.PersonID, a.IdentityID, a.State, a.AuthSystem, a.ConnectionID, a.Email, a.Username, a.Phone, a.RoleID, a.PlanID,
		a.PrimaryGroupID, strings.Join(a.GroupIDs, ","), a.AdminRole, a.Language, a.ManagedBy, t.now, t.now, nullTime(a.ActivatedAt), nil, nullTime(a.InviteExpiresAt))
	if err != nil {
		return err
	}
	return t.addLoginIDs(ctx, tenant, a.ID, LoginIDs(a))
}

// addLoginIDs claims identifiers for account in one statement; when some
// did not insert, those taken by another account are named.
func (t *Tx) addLoginIDs(ctx context.Context, tenant, account string, ids map[string]string) error {
	if len(ids) == 0 {
		return nil
	}
	var args []any
	for _, kind := range []string{usher.FieldEmail, usher.FieldUsername, usher.FieldPhone} {
		if v, ok := ids[kind]; ok {
			args = append(args, tenant, v, kind, account)
		}
	}
	return t.insertThen(ctx, func(n int64, err error) error {
		if err != nil {
			return fmt.Errorf("insert login identifiers: %w", err)
		}
		if int(n) == len(ids) {
			return nil
		}
		for _, kind := range []string{usher.FieldEmail, usher.FieldUsername, usher.FieldPhone} {
			v, ok := ids[kind]
			if !ok {
				continue
			}
			var owner string
			if err := t.QueryRowContext(ctx, `SELECT account_id FROM login_ids WHERE tenant_id = $1 AND value = $2`, tenant, v).Scan(&owner); err != nil {
				return fmt.Errorf("find login identifier: %w", err)
			}
			if owner != account {
				return usher.Conflict(kind, "%s is already a sign-in %s of another account in this tenant", v, kind)
			}
		}
		return fmt.Errorf("insert login identifiers: %d of %d inserted, none taken", n, len(ids))
	}, `INSERT INTO login_ids (tenant_id, value, kind, account_id) VALUES `, ` ON CONFLICT DO NOTHING`, 4, args...)
}

// Account returns account id of tenant.
func (t *Tx) Account(ctx context.Context, tenant, id string) (usher.Account, error) {
	a, err := t.scanAccount(t.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE tenant_id = $1 AND id = $2`+t.forUpdate(), tenant, id))
	if notFound(err) {
		return a, usher.NotFound("account_id", "account")
	}
	return a, err
}

// AccountOfPerson returns the account of person, if any.
func (t *Tx) AccountOfPerson(ctx context.Context, tenant, person string) (usher.Account, error) {
	a, err := t.scanAccount(t.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE tenant_id = $1 AND person_id = $2`+t.forUpdate(), tenant, person))
	if notFound(err) {
		return a, usher.NotFound("person_id", "account")
	}
	return a, err
}

// AccountByLogin finds the account whose email, username or phone is value
// (already normalized).
func (t *Tx) AccountByLogin(ctx context.Context, tenant, value string) (usher.Account, error) {
	a, err := t.scanAccount(t.QueryRowContext(ctx, `SELECT `+prefixed("a.", accountCols)+` FROM login_ids l JOIN accounts a ON a.id = l.account_id
		WHERE l.tenant_id = $1 AND l.value = $2`, tenant, value))
	if notFound(err) {
		return a, usher.NotFound("identifier", "account")
	}
	return a, err
}

func prefixed(p, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = p + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// AccountFilter narrows a list of accounts.
type AccountFilter struct {
	State          string
	PlanID         string
	RoleID         string
	GroupID        string
	AuthSystem     string
	AdminRole      string
	OrganizationID string
	Login          string // exact email, username or phone (normalized)
	Invitation     string // usher.InvitationPending or usher.InvitationExpired (invited accounts only)
}

// Accounts lists tenant's accounts.
func (t *Tx) Accounts(ctx context.Context, tenant string, f AccountFilter, o ListOptions) ([]usher.Account, string, error) {
	w := &where{}
	w.add("tenant_id = ?", tenant)
	if f.State != "" {
		w.add("state = ?", f.State)
	}
	if f.PlanID != "" {
		w.add("plan_id = ?", f.PlanID)
	}
	if f.RoleID != "" {
		w.add("role_id = ?", f.RoleID)
	}
	if f.GroupID != "" {
		w.add("(primary_group_id = ? OR ',' || group_ids || ',' LIKE ?)", f.GroupID, "%,"+f.GroupID+",%")
	}
	if f.AuthSystem != "" {
		w.add("auth_system = ?", f.AuthSystem)
	}
	if f.AdminRole != "" {
		w.add("admin_role = ?", f.AdminRole)
	}
	if f.OrganizationID != "" {
		w.add("person_id IN (SELECT id FROM persons WHERE tenant_id = ? AND organization_id = ?)", tenant, f.OrganizationID)
	}
	switch f.Invitation {
	case usher.InvitationPending:
		w.add("state = 'invited' AND invite_expires_at > ?", t.now)
	case usher.InvitationExpired:
		w.add("state = 'invited' AND (invite_expires_at IS NULL OR invite_expires_at <= ?)", t.now)
	}
	if f.Login != "" {
		w.add("id IN (SELECT account_id FROM login_ids WHERE tenant_id = ? AND value = ?)", tenant, f.Login)
	}
	return page(ctx, t, `SELECT `+accountCols+` FROM accounts`, w, o, t.scanAccount, func(x usher.Account) string { return x.ID })
}

// UpdateAccount writes a, replacing its login identifiers when they changed
// from old. Seats are the caller's: see ClaimSeat and ReleaseSeat.
func (t *Tx) UpdateAccount(ctx context.Context, tenant string, old, a *usher.Account) error {
	a.UpdatedAt = t.now
	res, err := t.ExecContext(ctx, `UPDATE accounts SET identity_id = $3, state = $4, auth_system = $5, connection_id = $6, email = $7, username = $8,
		phone = $9, role_id = $10, plan_id = $11, primary_group_id = $12, group_ids = $13, admin_role = $14, language = $15, updated_at = $16,
		activated_at = $17, deactivated_at = $18, invite_expires_at = $19, managed_by = $20 WHERE tenant_id = $1 AND id = $2`,
		tenant, a.ID, a.IdentityID, a.State, a.AuthSystem, a.ConnectionID, a.Email, a.Username, a.Phone, a.RoleID, a.PlanID, a.PrimaryGroupID,
		strings.Join(a.GroupIDs, ","), a.AdminRole, a.Language, t.now, nullTime(a.ActivatedAt), nullTime(a.DeactivatedAt), nullTime(a.InviteExpiresAt), a.ManagedBy)
	if err != nil {
		return fmt.Errorf("update account: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return usher.NotFound("account_id", "account")
	}
	oldIDs, newIDs := LoginIDs(old), LoginIDs(a)
	changed := map[string]string{}
	for k, v := range newIDs {
		if oldIDs[k] != v {
			changed[k] = v
		}
	}
	for k, v := range oldIDs {
		if newIDs[k] != v {
			if _, err := t.ExecContext(ctx, `DELETE FROM login_ids WHERE tenant_id = $1 AND value = $2 AND account_id = $3`, tenant, v, a.ID); err != nil {
				return fmt.Errorf("remove login identifier: %w", err)
			}
		}
	}
	return t.addLoginIDs(ctx, tenant, a.ID, changed)
}

// ClaimSeat gives account a free seat of plan. It returns ErrSeatsFull when
// every seat is taken and not found when the plan is not the tenant's.
func (t *Tx) ClaimSeat(ctx context.Context, tenant, plan, account string) error {
	// On PostgreSQL free seats are looked for from a random seat onwards,
	// then from the first. Always starting at the first would make every
	// claim step over all the seats claimed before it: their dead index
	// entries stay until vacuum, and a 100,000-seat plan took 40 ms a claim.
	// SQLite removes index entries at once, and the first free seat keeps
	// the pages a claim writes together.
	lock, starts := "", []float64{0}
	if t.dialect == Postgres {
		// SKIP LOCKED: concurrent creations each take a different free row
		// instead of queueing on one counter.
		lock, starts = " FOR UPDATE SKIP LOCKED", []float64{mrand.Float64(), 0}
	}
	q := claimSeatSQL(lock)
	check := func(n int64, err error) error {
		if err != nil {
			return fmt.Errorf("claim seat: %w", err)
		}
		if n == 1 {
			return nil
		}
		for _, from := range starts[1:] {
			res, err := t.ExecContext(ctx, q, tenant, plan, account, from)
			if err != nil {
				return fmt.Errorf("claim seat: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 1 {
				return nil
			}
		}
		return t.noSeat(ctx, tenant, plan)
	}
	if t.pg != nil {
		// The claims of a group of creations for the same plan go in one
		// statement (claimSeats).
		t.pg.queue(queuedExec{query: q, args: []any{tenant, plan, account, starts[0]}, check: check, rows: 1,
			join: &joiner{key: "claim seats\x00" + tenant + "\x00" + plan, build: claimSeats, strict: claimSeatsStrict}})
		return nil
	}
	if t.mq != nil {
		t.mq.queue(queuedExec{query: q, args: []any{tenant, plan, account, starts[0]}, check: check, rows: 1,
			join: &joiner{key: "claim seats\x00" + tenant + "\x00" + plan, build: claimSeats, sqlite: claimSeatsSQLite}})
		return nil
	}
	return t.execThen(ctx, check, q, tenant, plan, account, starts[0])
}

// claimSeatSQL claims a free seat of plan $2 in tenant $1 for account $3,
// looking from the fraction $4 of the plan's seats onwards; lock ends the
// search for a free seat.
func claimSeatSQL(lock string) string {
	return `UPDATE plan_seats SET account_id = $3 WHERE (plan_id, seat_no) = (SELECT plan_id, seat_no FROM plan_seats
		WHERE tenant_id = $1 AND plan_id = $2 AND account_id IS NULL
		AND seat_no >= CAST((SELECT p.seats FROM plans p WHERE p.id = $2) * CAST($4 AS REAL) AS INTEGER)
		AND NOT EXISTS (SELECT 1 FROM plans p WHERE p.id = $2 AND p.deactivated_at IS NOT NULL) ORDER BY seat_no LIMIT 1` + lock + `)`
}

// claimSeats claims a seat for each of the joined claims' accounts, in one
// statement: free seats from the first claim's random start onwards, then,
// only when those run short, from the first seat (PostgreSQL reads a WITH
// query only as far as it is asked to). When fewer seats are free than
// claims, the group's writes run again alone, where each claim's own check
// explains the refusal. (The update names the plan as a parameter: joined
// only through numbered, PostgreSQL expected one seat, and matched the
// claims to the seats by comparing every pair: 12.5 ms instead of 3.3 for
// 250 claims on a plan of 100,000 seats.)
func claimSeats(parts [][]any) (string, []any) {
	accounts := make([]string, len(parts))
	for i, a := range parts {
		accounts[i] = a[2].(string)
	}
	const free = `SELECT plan_id, seat_no FROM plan_seats
		WHERE tenant_id = $1 AND plan_id = $2 AND account_id IS NULL
		AND NOT EXISTS (SELECT 1 FROM plans p WHERE p.id = $2 AND p.deactivated_at IS NOT NULL)
		AND seat_no `
	const start = ` CAST((SELECT p.seats FROM plans p WHERE p.id = $2) * CAST($4 AS REAL) AS INTEGER)
		ORDER BY seat_no LIMIT $5 FOR UPDATE SKIP LOCKED`
	return `WITH later AS (` + free + `>=` + start + `),
	earlier AS (` + free + `<` + start + `),
	free AS (SELECT plan_id, seat_no FROM later UNION ALL SELECT plan_id, seat_no FROM earlier LIMIT $5),
	numbered AS (SELECT plan_id, seat_no, row_number() OVER () AS n FROM free)
	UPDATE plan_seats s SET account_id = w.account
	FROM numbered JOIN unnest(CAST($3 AS TEXT[])) WITH ORDINALITY AS w(account, n) ON w.n = numbered.n
	WHERE s.plan_id = $2 AND s.seat_no = numbered.seat_no`,
		[]any{parts[0][0], parts[0][1], accounts, parts[0][3], len(parts)}
}

// claimSeatsStrict is claimSeats failing (division by zero) unless every
// account got a seat.
func claimSeatsStrict(parts [][]any) (string, []any) {
	q, args := claimSeats(parts)
	return "WITH r AS (" + q + " RETURNING 1) SELECT 1 / CAST(count(*) = " + strconv.Itoa(len(parts)) + " AS INTEGER) FROM r", args
}

// noSeat explains why no seat of plan could be claimed.
func (t *Tx) noSeat(ctx context.Context, tenant, plan string) error {
	p, err := t.Plan(ctx, tenant, plan)
	if err != nil {
		return err
	}
	if p.DeactivatedAt != nil {
		return usher.Invalid("plan_id", "plan %q is deactivated", p.Name)
	}
	return &usher.Error{Code: usher.CodeSeatsFull, Field: "plan_id", Message: fmt.Sprintf("plan %q has no free seat (%d of %d used)", p.Name, p.SeatsUsed, p.Seats)}
}

// ReleaseSeat frees the seat account holds, if any.
func (t *Tx) ReleaseSeat(ctx context.Context, tenant, account string) error {
	_, err := t.ExecContext(ctx, `UPDATE plan_seats SET account_id = NULL WHERE tenant_id = $1 AND account_id = $2`, tenant, account)
	if err != nil {
		return fmt.Errorf("release seat: %w", err)
	}
	return nil
}

// AccountsOfPersons returns the accounts of the given persons of tenant, by person id.
func (t *Tx) AccountsOfPersons(ctx context.Context, tenant string, persons []string) (map[string]usher.Account, error) {
	out := make(map[string]usher.Account, len(persons))
	if len(persons) == 0 {
		return out, nil
	}
	w := &where{}
	w.add("tenant_id = ?", tenant)
	in := make([]string, len(persons))
	for i, p := range persons {
		in[i] = w.next(p)
	}
	rows, err := t.QueryContext(ctx, `SELECT `+accountCols+` FROM accounts`+w.sql()+` AND person_id IN (`+strings.Join(in, ",")+`)`, w.args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		a, err := t.scanAccount(rows)
		if err != nil {
			return nil, err
		}
		out[a.PersonID] = a
	}
	return out, rows.Err()
}

// AccountCounts counts tenant's accounts by state, with invited accounts
// whose invitation expired under "expired".
func (t *Tx) AccountCounts(ctx context.Context, tenant string) (map[string]int, error) {
	rows, err := t.QueryContext(ctx, `SELECT CASE WHEN state = 'invited' AND (invite_expires_at IS NULL OR invite_expires_at <= $2) THEN 'expired' ELSE state END, count(*)
		FROM accounts WHERE tenant_id = $1 GROUP BY 1`, tenant, t.now)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return nil, err
		}
		out[k] = n
	}
	return out, rows.Err()
}

// TakenLogins returns which of values (normalized login identifiers) sign
// in to an account of tenant: one query for many, as an import checks its
// rows.
func (t *Tx) TakenLogins(ctx context.Context, tenant string, values []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(values) == 0 {
		return out, nil
	}
	query, args := `SELECT value FROM login_ids WHERE tenant_id = $1 AND value = ANY($2)`, []any{tenant, values}
	if t.dialect == SQLite {
		// No arrays: a list of parameters, which SQLite plans at each
		// prepare. (On PostgreSQL a list's generic plan, chosen after a few
		// runs of the prepared statement, used the index for the tenant
		// only, and read every identifier of the tenant: 170–470 ms a batch
		// in an import of 40,000 rows.)
		args = append(make([]any, 0, len(values)+1), tenant)
		var in strings.Builder
		for i, v := range values {
			if i > 0 {
				in.WriteByte(',')
			}
			in.WriteString("$" + strconv.Itoa(i+2))
			args = append(args, v)
		}
		query = `SELECT value FROM login_ids WHERE tenant_id = $1 AND value IN (` + in.String() + `)`
	}
	rows, err := t.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("look up login identifiers: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out[v] = true
	}
	return out, rows.Err()
}

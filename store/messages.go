package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/usherhq/usher"
)

const msgCols = `id, tenant_id, kind, channel, to_addr, account_id, language, subject, body, html, data, state, attempts, last_error, dedupe_key, created_at, next_attempt_at, sent_at`

func scanMsg(r scanner) (usher.Message, error) {
	var m usher.Message
	var sent sql.NullTime
	err := r.Scan(&m.ID, &m.TenantID, &m.Kind, &m.Channel, &m.To, &m.AccountID, &m.Language, &m.Subject, &m.Body, &m.HTML, &m.Data, &m.State, &m.Attempts,
		&m.LastError, &m.DedupeKey, &m.CreatedAt, &m.NextAttempt, &sent)
	m.SentAt = ptrTime(sent)
	m.CreatedAt, m.NextAttempt = m.CreatedAt.UTC(), m.NextAttempt.UTC()
	return m, err
}

// QueueMessage adds m to the outbox in the current transaction. A message
// with the same dedupe key already queued is left as it is (queued reports
// false): the same event never sends the same person a message twice.
func (t *Tx) QueueMessage(ctx context.Context, tenant string, m *usher.Message) (queued bool, err error) {
	args := t.queueMessage(tenant, m)
	res, err := t.ExecContext(ctx, insertSQL(msgInsert, msgTail, len(args), 1), args...)
	if err != nil {
		return false, fmt.Errorf("queue message: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// AddMessage is QueueMessage for a caller that need not know whether an
// equal message was already queued; on PostgreSQL the statement then goes
// with the transaction's next round trip.
func (t *Tx) AddMessage(ctx context.Context, tenant string, m *usher.Message) error {
	args := t.queueMessage(tenant, m)
	return t.insertThen(ctx, func(_ int64, err error) error {
		if err != nil {
			return fmt.Errorf("queue message: %w", err)
		}
		return nil
	}, msgInsert, msgTail, len(args), args...)
}

const (
	msgInsert = `INSERT INTO messages (id, tenant_id, kind, channel, to_addr, account_id, language, subject, body, html, data, state, dedupe_key, created_at, next_attempt_at) VALUES `
	msgTail   = ` ON CONFLICT DO NOTHING`
)

func (t *Tx) queueMessage(tenant string, m *usher.Message) []any {
	if m.ID == "" {
		m.ID = NewID()
	}
	if m.DedupeKey == "" {
		m.DedupeKey = m.ID
	}
	m.TenantID, m.State, m.CreatedAt, m.NextAttempt = tenant, usher.MessageQueued, t.now, t.now
	return []any{m.ID, tenant, m.Kind, m.Channel, m.To, m.AccountID, m.Language, m.Subject, m.Body, m.HTML, m.Data, m.State, m.DedupeKey, t.now, t.now}
}

// MessageFilter narrows the outbox.
type MessageFilter struct {
	AccountID string
	State     string
	Kind      string
	Channel   string
}

// Messages lists tenant's messages, oldest first.
func (t *Tx) Messages(ctx context.Context, tenant string, f MessageFilter, o ListOptions) ([]usher.Message, string, error) {
	w := &where{}
	w.add("tenant_id = ?", tenant)
	if f.AccountID != "" {
		w.add("account_id = ?", f.AccountID)
	}
	if f.State != "" {
		w.add("state = ?", f.State)
	}
	if f.Kind != "" {
		w.add("kind = ?", f.Kind)
	}
	if f.Channel != "" {
		w.add("channel = ?", f.Channel)
	}
	return page(ctx, t, `SELECT `+msgCols+` FROM messages`, w, o, scanMsg, func(x usher.Message) string { return x.ID })
}

// Message returns message id of tenant.
func (t *Tx) Message(ctx context.Context, tenant, id string) (usher.Message, error) {
	m, err := scanMsg(t.QueryRowContext(ctx, `SELECT `+msgCols+` FROM messages WHERE tenant_id = $1 AND id = $2`, tenant, id))
	if notFound(err) {
		return m, usher.NotFound("message_id", "message")
	}
	return m, err
}

// ClaimMessages leases up to n due messages of every tenant to owner for
// lease. Two
// workers never hold the same message: on PostgreSQL the rows are locked
// with SKIP LOCKED, on SQLite the single writer serializes claims. A claim
// counts as an attempt, so a worker that dies mid-send still moves the
// message towards its retry limit.
//
// Only messages of the given channels are claimed: those of a channel no
// sender is configured for stay queued, readable by administrators.
func (t *Tx) ClaimMessages(ctx context.Context, owner string, n int, lease time.Duration, channels []string) ([]usher.Message, error) {
	if len(channels) == 0 {
		return nil, nil
	}
	skip := ""
	if t.dialect == Postgres {
		skip = " FOR UPDATE SKIP LOCKED"
	}
	w := &where{}
	w.add("state = 'queued'")
	now := w.next(t.now)
	w.add("next_attempt_at <= " + now + " AND (lease_until IS NULL OR lease_until <= " + now + ")")
	in := make([]string, len(channels))
	for i, c := range channels {
		in[i] = w.next(c)
	}
	w.add("channel IN (" + strings.Join(in, ",") + ")")
	limit := w.next(n)
	until := w.next(t.now.Add(lease))
	by := w.next(owner)
	rows, err := t.QueryContext(ctx, `UPDATE messages SET lease_until = `+until+`, lease_owner = `+by+`, attempts = attempts + 1 WHERE id IN (
		SELECT id FROM messages`+w.sql()+` ORDER BY next_attempt_at LIMIT `+limit+skip+`) RETURNING `+msgCols, w.args...)
	if err != nil {
		return nil, fmt.Errorf("claim messages: %w", err)
	}
	defer rows.Close()
	var out []usher.Message
	for rows.Next() {
		m, err := scanMsg(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// MarkSent records delivery of a claimed message, with the text it was
// sent with when it was stored as data. A message that is no longer queued
// (another replica finished it) is left as it is.
func (t *Tx) MarkSent(ctx context.Context, m usher.Message) error {
	if m.Data != "" {
		return fmt.Errorf("mark message %s sent: its text was not written out", m.ID)
	}
	_, err := t.ExecContext(ctx, `UPDATE messages SET state = 'sent', sent_at = $2, lease_until = NULL, lease_owner = '', last_error = '',
		subject = $3, body = $4, html = $5, data = '' WHERE id = $1 AND state = 'queued'`, m.ID, t.now, m.Subject, m.Body, m.HTML)
	return err
}

// ReleaseMessages gives owner's claimed messages that were not tried back
// to the queue, without counting the claim as an attempt. A message
// another worker claimed since owner's lease ran out stays that worker's.
func (t *Tx) ReleaseMessages(ctx context.Context, owner string, ids []string) error {
	for _, id := range ids {
		if _, err := t.ExecContext(ctx, `UPDATE messages SET lease_until = NULL, lease_owner = '', attempts = attempts - 1
			WHERE id = $1 AND lease_owner = $2 AND state = 'queued' AND attempts > 0`, id, owner); err != nil {
			return err
		}
	}
	return nil
}

// MarkFailed records owner's failed attempt: the message is retried at
// retryAt, or abandoned when retryAt is nil. A message another worker
// claimed since owner's lease ran out is left to that worker.
func (t *Tx) MarkFailed(ctx context.Context, id, owner, lastError string, retryAt *time.Time) error {
	var err error
	if retryAt == nil {
		_, err = t.ExecContext(ctx, `UPDATE messages SET state = 'abandoned', last_error = $3, lease_until = NULL, lease_owner = ''
			WHERE id = $1 AND lease_owner = $2 AND state = 'queued'`, id, owner, lastError)
	} else {
		_, err = t.ExecContext(ctx, `UPDATE messages SET last_error = $3, lease_until = NULL, lease_owner = '', next_attempt_at = $4
			WHERE id = $1 AND lease_owner = $2 AND state = 'queued'`, id, owner, lastError, retryAt.UTC())
	}
	return err
}

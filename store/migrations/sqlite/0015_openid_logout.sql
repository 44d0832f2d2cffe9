-- Logout at the products (package openid): where each client hears that a
-- person's usher session ended (OpenID Connect Back-Channel and
-- Front-Channel Logout), and the logout tokens waiting to be delivered.

-- A client's logout addresses; *_session_required asks for the sid claim
-- (usher always sends it when the grant came through a session).
ALTER TABLE openid_clients ADD COLUMN backchannel_logout_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE openid_clients ADD COLUMN backchannel_logout_session_required BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE openid_clients ADD COLUMN frontchannel_logout_uri TEXT NOT NULL DEFAULT '';
ALTER TABLE openid_clients ADD COLUMN frontchannel_logout_session_required BOOLEAN NOT NULL DEFAULT FALSE;

-- When a grant's session (or account) ended and its client was told, so
-- that a later end (the account deactivated after a sign-out) tells it once.
ALTER TABLE openid_grants ADD COLUMN logged_out_at TIMESTAMP;

-- The outbox of logout tokens, written in the transaction that ends the
-- session or the account: one per client, account and session. id is the
-- token's jti. next_at is the next attempt; lease_owner and lease_until keep
-- two workers from delivering the same one at once.
CREATE TABLE openid_logout_events (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  client_id TEXT NOT NULL,
  account_id TEXT NOT NULL,
  session_id TEXT NOT NULL DEFAULT '',
  reason TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_at TIMESTAMP NOT NULL,
  lease_owner TEXT NOT NULL DEFAULT '',
  lease_until TIMESTAMP,
  delivered_at TIMESTAMP,
  abandoned_at TIMESTAMP,
  last_error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX openid_logout_events_due ON openid_logout_events(next_at) WHERE delivered_at IS NULL AND abandoned_at IS NULL;
CREATE INDEX openid_logout_events_tenant ON openid_logout_events(tenant_id, created_at);

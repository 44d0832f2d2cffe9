-- Linked external accounts (package linked): the systems a tenant's people
-- link their own accounts in, the links with their tokens, and the
-- authorizations under way.

-- A tenant's external systems. config holds the kind's settings as JSON
-- (client id, the sealed client secret, scopes, endpoints, EWS address,
-- reminder days), which no query filters on.
CREATE TABLE external_systems (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  name TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('google','microsoft','oauth2','exchange')),
  config TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL,
  deactivated_at TIMESTAMP
);
CREATE INDEX external_systems_tenant ON external_systems(tenant_id, id);

-- One row per link of an account to its account in an external system.
-- Tokens (and Exchange passwords) are sealed. next_at is when the worker
-- looks at the link next: the refresh of an authorized link, the reminder
-- of one that needs the person again; lease_owner and lease_until keep two
-- workers (or a worker and a product's token request) from refreshing it
-- at once.
CREATE TABLE links (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  account_id TEXT NOT NULL REFERENCES accounts(id),
  external_system_id TEXT NOT NULL REFERENCES external_systems(id),
  login TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending','authorized','reauthorize','revoked','unlinked')),
  subject TEXT NOT NULL DEFAULT '',
  scopes TEXT NOT NULL DEFAULT '',
  access_token TEXT NOT NULL DEFAULT '',
  refresh_token TEXT NOT NULL DEFAULT '',
  password TEXT NOT NULL DEFAULT '',
  expires_at TIMESTAMP,
  next_at TIMESTAMP,
  lease_owner TEXT NOT NULL DEFAULT '',
  lease_until TIMESTAMP,
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  authorized_at TIMESTAMP,
  refreshed_at TIMESTAMP,
  notified_at TIMESTAMP,
  reminded_at TIMESTAMP,
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL
);
-- At most one live link per account and system; unlinked and revoked ones
-- stay as history.
CREATE UNIQUE INDEX links_live ON links(tenant_id, account_id, external_system_id) WHERE state <> 'revoked' AND state <> 'unlinked';
CREATE INDEX links_tenant ON links(tenant_id, id);
CREATE INDEX links_due ON links(next_at) WHERE next_at IS NOT NULL;

-- Authorizations under way: id is the hash of the state the browser holds
-- in a cookie; each is used once.
CREATE TABLE link_requests (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  link_id TEXT NOT NULL,
  verifier TEXT NOT NULL,
  nonce TEXT NOT NULL DEFAULT '',
  created_at TIMESTAMP NOT NULL,
  expires_at TIMESTAMP NOT NULL,
  used_at TIMESTAMP
);
CREATE INDEX link_requests_expiry ON link_requests(expires_at);

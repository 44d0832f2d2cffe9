-- Sign-in: sessions, attempt throttles and the devices that signed in before.

-- A session belongs to an identity, so one sign-in serves every tenant where
-- the identity has an account. Only the hash of its secret is stored.
CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  secret_hash TEXT NOT NULL UNIQUE,
  identity_id TEXT NOT NULL,
  -- the tenant signed in to; its timeouts bound the session everywhere
  tenant_id TEXT NOT NULL,
  method TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL,
  last_seen_at TIMESTAMP NOT NULL,
  source TEXT NOT NULL DEFAULT '',
  user_agent TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_identity ON sessions(identity_id, tenant_id);

-- Failed-attempt counters, by account, device or source address; shared by
-- every replica so a burst spread over replicas still meets one counter.
CREATE TABLE throttles (
  key TEXT PRIMARY KEY,
  failures INTEGER NOT NULL,
  last_failure_at TIMESTAMP NOT NULL,
  locked_until TIMESTAMP
);

-- Browsers that signed in to an account before: they keep their own counter,
-- so an attacker's guesses cannot lock the real person out.
CREATE TABLE known_devices (
  account_id TEXT NOT NULL,
  device_hash TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL,
  PRIMARY KEY (account_id, device_hash)
);

-- Partial: accounts are created without an identity, and their inserts skip it.
CREATE INDEX accounts_identity ON accounts(identity_id, tenant_id) WHERE identity_id <> '';

-- Corporate SSO sign-in (package sso).

-- The connection a session signed in through; '' for a password. A session
-- serves only accounts on that connection.
ALTER TABLE sessions ADD COLUMN connection_id TEXT NOT NULL DEFAULT '';
-- Deactivating a connection ends its sessions.
CREATE INDEX sessions_connection ON sessions(connection_id) WHERE connection_id <> '';

-- Which account an identity provider's stable subject (OIDC sub, SAML
-- NameID or a configured attribute) stands for: one per account and
-- connection. Written by provision with the sign-in that ties them.
CREATE TABLE sso_subjects (
  tenant_id TEXT NOT NULL,
  connection_id TEXT NOT NULL REFERENCES connections(id),
  subject TEXT NOT NULL,
  account_id TEXT NOT NULL REFERENCES accounts(id),
  created_at TIMESTAMP NOT NULL,
  PRIMARY KEY (tenant_id, connection_id, subject)
);
CREATE UNIQUE INDEX sso_subjects_account ON sso_subjects(tenant_id, connection_id, account_id);

-- Sign-ins under way: what the browser was sent to the identity provider
-- with (state, nonce, PKCE verifier, the SAML request id) and, once the
-- identity provider answered, what it said, until the browser that started
-- it picks it up. id is the hash of the state; each is used once.
CREATE TABLE sso_requests (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  connection_id TEXT NOT NULL,
  purpose TEXT NOT NULL,
  nonce TEXT NOT NULL DEFAULT '',
  verifier TEXT NOT NULL DEFAULT '',
  request_id TEXT NOT NULL DEFAULT '',
  next TEXT NOT NULL DEFAULT '',
  result TEXT NOT NULL DEFAULT '',
  created_at TIMESTAMP NOT NULL,
  expires_at TIMESTAMP NOT NULL,
  answered_at TIMESTAMP,
  used_at TIMESTAMP
);
CREATE INDEX sso_requests_expiry ON sso_requests(expires_at);
CREATE INDEX sso_requests_saml ON sso_requests(connection_id, request_id) WHERE request_id <> '';

-- SAML assertions already accepted, until they expire: each is accepted
-- once, whichever replica sees it.
CREATE TABLE sso_assertions (
  connection_id TEXT NOT NULL,
  assertion_id TEXT NOT NULL,
  expires_at TIMESTAMP NOT NULL,
  PRIMARY KEY (connection_id, assertion_id)
);
CREATE INDEX sso_assertions_expiry ON sso_assertions(expires_at);

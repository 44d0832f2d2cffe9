-- The OpenID Connect provider's own tables (package openid). Every row
-- carries its tenant and every query filters on it: another tenant's client,
-- key, code or token is not found. Secrets are kept only as SHA-256 hashes
-- (client secrets, codes, refresh tokens) or sealed with the configured key
-- (signing keys' private halves).

-- A product (relying party) registered by the tenant's administrators.
-- id is the client_id. Lists are JSON arrays.
CREATE TABLE openid_clients (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  name TEXT NOT NULL,
  type TEXT NOT NULL CHECK (type IN ('confidential','public')),
  auth_method TEXT NOT NULL,
  secret_hash TEXT NOT NULL DEFAULT '',
  redirect_uris TEXT NOT NULL DEFAULT '[]',
  post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]',
  grant_types TEXT NOT NULL DEFAULT '[]',
  scopes TEXT NOT NULL DEFAULT '[]',
  third_party BOOLEAN NOT NULL DEFAULT FALSE,
  id_token_alg TEXT NOT NULL DEFAULT 'ES256',
  access_token_seconds INTEGER NOT NULL,
  id_token_seconds INTEGER NOT NULL,
  refresh_token_seconds INTEGER NOT NULL,
  jwks TEXT NOT NULL DEFAULT '',
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL,
  deleted_at TIMESTAMP
);
CREATE INDEX openid_clients_tenant ON openid_clients(tenant_id, id);

-- Signing keys, per tenant and algorithm. A key is published (in the JWKS)
-- from created_at, signs from signs_from (later than created_at when it
-- replaces another, so relying parties see it first), and leaves the JWKS at
-- expires_at, once what it signed has expired.
CREATE TABLE openid_keys (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  alg TEXT NOT NULL,
  public_jwk TEXT NOT NULL,
  private_key TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL,
  signs_from TIMESTAMP NOT NULL,
  expires_at TIMESTAMP
);
CREATE INDEX openid_keys_tenant ON openid_keys(tenant_id, alg, signs_from);

-- An authorization request, from the authorization endpoint until its code
-- is used. data is the request as JSON; the code is kept as its hash.
CREATE TABLE openid_auth_requests (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  client_id TEXT NOT NULL,
  data TEXT NOT NULL,
  account_id TEXT NOT NULL DEFAULT '',
  identity_id TEXT NOT NULL DEFAULT '',
  session_id TEXT NOT NULL DEFAULT '',
  auth_time TIMESTAMP,
  code_hash TEXT NOT NULL DEFAULT '',
  code_expires_at TIMESTAMP,
  code_used_at TIMESTAMP,
  grant_id TEXT NOT NULL DEFAULT '',
  created_at TIMESTAMP NOT NULL,
  expires_at TIMESTAMP NOT NULL
);
CREATE INDEX openid_auth_requests_tenant ON openid_auth_requests(tenant_id, id);
CREATE UNIQUE INDEX openid_auth_requests_code ON openid_auth_requests(code_hash) WHERE code_hash <> '';
CREATE INDEX openid_auth_requests_expiry ON openid_auth_requests(expires_at);

-- A grant: what one sign-in (or one code) gave a client for an account. Its
-- refresh tokens form one family; revoking the grant ends them all, and the
-- access tokens it issued introspect as inactive.
CREATE TABLE openid_grants (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  client_id TEXT NOT NULL,
  account_id TEXT NOT NULL,
  identity_id TEXT NOT NULL DEFAULT '',
  session_id TEXT NOT NULL DEFAULT '',
  scopes TEXT NOT NULL,
  auth_time TIMESTAMP NOT NULL,
  created_at TIMESTAMP NOT NULL,
  expires_at TIMESTAMP NOT NULL,
  revoked_at TIMESTAMP,
  revoked_reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX openid_grants_tenant ON openid_grants(tenant_id, id);
CREATE INDEX openid_grants_account ON openid_grants(tenant_id, account_id);
CREATE INDEX openid_grants_identity ON openid_grants(identity_id, session_id) WHERE identity_id <> '';

-- Refresh tokens, by the hash of the token. Each use marks it used and
-- issues the next; a used one presented again revokes its grant.
CREATE TABLE openid_refresh_tokens (
  hash TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  grant_id TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL,
  expires_at TIMESTAMP NOT NULL,
  used_at TIMESTAMP
);
CREATE INDEX openid_refresh_tokens_grant ON openid_refresh_tokens(tenant_id, grant_id);

-- Access tokens revoked before their expiry (RFC 7009), by their jti.
CREATE TABLE openid_revoked_tokens (
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  jti TEXT NOT NULL,
  expires_at TIMESTAMP NOT NULL,
  PRIMARY KEY (tenant_id, jti)
);

-- Consent an account gave a third-party client, for the scopes listed.
CREATE TABLE openid_consents (
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  account_id TEXT NOT NULL,
  client_id TEXT NOT NULL,
  scopes TEXT NOT NULL,
  created_at TIMESTAMP NOT NULL,
  PRIMARY KEY (tenant_id, account_id, client_id)
);

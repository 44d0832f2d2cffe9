-- The client assertions (private_key_jwt) the provider accepted, kept until
-- they expire: an assertion's jti works once per client (OpenID Connect
-- Core §9), whichever replica sees it again.
CREATE TABLE openid_assertions (
  tenant_id TEXT NOT NULL,
  client_id TEXT NOT NULL,
  jti TEXT NOT NULL,
  expires_at TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (tenant_id, client_id, jti)
);
CREATE INDEX openid_assertions_expiry ON openid_assertions(expires_at);

-- A private_key_jwt client that rotates its keys publishes them at an
-- address instead of registering them (jwks stays '').
ALTER TABLE openid_clients ADD COLUMN jwks_uri TEXT NOT NULL DEFAULT '';

-- How a provisioning source (a scim token) wants a successful SCIM PATCH
-- answered: '' or 'no_content' (204), or 'resource' (200 with the resource).
ALTER TABLE api_tokens ADD COLUMN patch_response TEXT NOT NULL DEFAULT '';

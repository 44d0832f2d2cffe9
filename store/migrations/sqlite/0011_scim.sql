-- Provisioning sources (SCIM): what a source manages, what it described, and
-- the group memberships it gave. managed_by is the id of the source's API
-- token (role scim); '' is managed by hand.
ALTER TABLE persons ADD COLUMN managed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN managed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE attributes ADD COLUMN managed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE attributes ADD COLUMN external_id TEXT NOT NULL DEFAULT '';
-- Sources look people up by their own id before creating them.
CREATE INDEX persons_external_id ON persons(tenant_id, external_id) WHERE external_id <> '';

-- A user as its source last described it (the SCIM resource, JSON): what
-- usher does not keep itself (addresses, other emails, the manager) is
-- given back as the source sent it. emails holds every email of the
-- description, lowercased, as ",a@x,b@y,", for lookups by any of them.
CREATE TABLE source_users (
  account_id TEXT PRIMARY KEY REFERENCES accounts(id),
  tenant_id TEXT NOT NULL,
  source_id TEXT NOT NULL,
  emails TEXT NOT NULL DEFAULT '',
  data TEXT NOT NULL,
  updated_at TIMESTAMP NOT NULL
);
CREATE INDEX source_users_tenant ON source_users(tenant_id, account_id);

-- The group memberships a source gave (the account's group_ids hold every
-- membership): a source removes only these, never one given by hand.
-- display is the member's label as the source sent it.
CREATE TABLE source_members (
  tenant_id TEXT NOT NULL,
  group_id TEXT NOT NULL REFERENCES attributes(id),
  account_id TEXT NOT NULL REFERENCES accounts(id),
  source_id TEXT NOT NULL,
  display TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (group_id, account_id)
);
CREATE INDEX source_members_account ON source_members(tenant_id, account_id);

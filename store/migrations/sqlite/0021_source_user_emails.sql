-- A source looks a user up by email before creating it (Entra ID's
-- emails[type eq "work"].value eq "…"). Each email of a description gets a
-- row here, so that lookup is a search of an index, not a scan of every
-- description of the tenant with LIKE; and persons get an index by email
-- across the tenant's organizations, for the same lookup.
CREATE TABLE source_user_emails (
  tenant_id TEXT NOT NULL,
  email TEXT NOT NULL,
  account_id TEXT NOT NULL REFERENCES source_users(account_id),
  PRIMARY KEY (tenant_id, email, account_id)
);
CREATE INDEX source_user_emails_account ON source_user_emails(account_id);
WITH RECURSIVE split(tenant_id, account_id, rest, email) AS (
  SELECT tenant_id, account_id, substr(emails, 2), '' FROM source_users WHERE emails <> ''
  UNION ALL
  SELECT tenant_id, account_id, substr(rest, instr(rest, ',') + 1), substr(rest, 1, instr(rest, ',') - 1) FROM split WHERE instr(rest, ',') > 0
)
INSERT OR IGNORE INTO source_user_emails (tenant_id, email, account_id) SELECT tenant_id, email, account_id FROM split WHERE email <> '';
CREATE INDEX persons_email ON persons(tenant_id, email);

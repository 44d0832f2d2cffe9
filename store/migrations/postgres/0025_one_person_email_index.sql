-- Persons had two indexes by email: (tenant_id, organization_id, email),
-- unique where the email is set, and (tenant_id, email), for lookups across
-- a tenant's organizations. Emails are random keys, so each index put every
-- new person on a page of its own: one index with the email before the
-- organization keeps the same uniqueness and serves both. A lookup names
-- email <> '' so that it may use the partial index.
CREATE UNIQUE INDEX persons_email_org ON persons(tenant_id, email, organization_id) WHERE email <> '';
DROP INDEX persons_email_per_org;
DROP INDEX persons_email;

-- The foreign keys from every person, account and import row to the rows
-- all of a tenant's writes share (its tenant, plan, organization, import)
-- go. Each inserted row locked its parent (FOR KEY SHARE) until its commit,
-- so concurrent writers of a tenant shared a lock on the same row, which
-- PostgreSQL keeps as a new multixact for each one: a tenth of its CPU in
-- an import. None of these parents is ever deleted (plans, organizations
-- and tenants are deactivated), the service checks each reference before
-- it writes, and an import's row is recorded only while the import, locked
-- by that statement, is its worker's. The keys between the rows of one
-- creation (an account's person, an activation's account) stay.
ALTER TABLE persons DROP CONSTRAINT IF EXISTS persons_tenant_id_fkey;
ALTER TABLE persons DROP CONSTRAINT IF EXISTS persons_organization_id_fkey;
ALTER TABLE accounts DROP CONSTRAINT IF EXISTS accounts_tenant_id_fkey;
ALTER TABLE accounts DROP CONSTRAINT IF EXISTS accounts_plan_id_fkey;
ALTER TABLE import_rows DROP CONSTRAINT IF EXISTS import_rows_import_id_fkey;

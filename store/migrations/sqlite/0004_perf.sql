-- No query finds login identifiers by account: lookups, changes and removals
-- go by (tenant_id, value), and accounts are never deleted. One index less
-- to write on every new account.
DROP INDEX login_ids_account;

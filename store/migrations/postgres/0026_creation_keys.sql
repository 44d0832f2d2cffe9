-- The foreign keys between the rows every creation writes go: an
-- account's to its person, and a login identifier's and an activation's
-- to their account. (A source's description of an account keeps its key.)
-- PostgreSQL checked each with a query of its own for every row, 15 % of
-- its CPU in an import. The three rows are written by one creation in one
-- transaction, after the parent in the same statement group; neither
-- persons nor accounts are ever deleted (they are deactivated). SQLite
-- keeps the keys and enforces them in every test, where the same suites
-- run: a write that named a missing parent would fail there.
ALTER TABLE accounts DROP CONSTRAINT IF EXISTS accounts_person_id_fkey;
ALTER TABLE login_ids DROP CONSTRAINT IF EXISTS login_ids_account_id_fkey;
ALTER TABLE activations DROP CONSTRAINT IF EXISTS activations_account_id_fkey;

-- How often an import's work failed for a reason other than its rows (the
-- database out of reach, a failover): the worker gives it back to be tried
-- again later, and fails the import only after a few such failures.
ALTER TABLE imports ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;

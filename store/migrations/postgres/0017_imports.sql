-- Bulk imports as jobs (package imports): the uploaded file, the job that
-- a worker of any replica leases, and each row's result.

-- One row per import. actor is who started it, as JSON (kind, id, role,
-- source), audited at its end. lease_owner and lease_until keep one worker
-- on the job at a time; a lease that runs out lets another take it over.
-- finished_at is set once the end is recorded and audited: a job cancelled
-- while running is finished by the worker that notices.
CREATE TABLE imports (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL REFERENCES tenants(id),
  state TEXT NOT NULL CHECK (state IN ('queued','running','done','cancelled','failed')),
  actor TEXT NOT NULL,
  file_name TEXT NOT NULL,
  file_size BIGINT NOT NULL,
  file_sha256 TEXT NOT NULL,
  format TEXT NOT NULL,
  total_rows INTEGER NOT NULL,
  rows_done INTEGER NOT NULL DEFAULT 0,
  created INTEGER NOT NULL DEFAULT 0,
  skipped INTEGER NOT NULL DEFAULT 0,
  refused INTEGER NOT NULL DEFAULT 0,
  error TEXT NOT NULL DEFAULT '',
  lease_owner TEXT NOT NULL DEFAULT '',
  lease_until TIMESTAMPTZ,
  created_at TIMESTAMPTZ NOT NULL,
  started_at TIMESTAMPTZ,
  finished_at TIMESTAMPTZ,
  updated_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX imports_tenant ON imports(tenant_id, id);
-- What the workers look for: the jobs not finished.
CREATE INDEX imports_unfinished ON imports(id) WHERE finished_at IS NULL;

-- The file as uploaded, kept for the worker and the reports.
CREATE TABLE import_files (
  import_id TEXT PRIMARY KEY REFERENCES imports(id),
  data BYTEA NOT NULL
);

-- A row's result, by its number in the file (the header is row 1). A
-- created row's is written in the transaction of its account's creation
-- (provision), so a row is created at most once whatever happens to the
-- worker; problems is the skipped or refused row's reasons as JSON.
CREATE TABLE import_rows (
  import_id TEXT NOT NULL REFERENCES imports(id),
  row_num INTEGER NOT NULL,
  result TEXT NOT NULL CHECK (result IN ('created','skipped','refused')),
  account_id TEXT NOT NULL DEFAULT '',
  person_id TEXT NOT NULL DEFAULT '',
  problems TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (import_id, row_num)
);

-- An import's file is kept in chunks of about 1 MiB, written as the
-- upload arrives and read back one at a time, so that no replica holds a
-- whole file (up to the import's limit, 50 MB by default) in memory.
-- import_id has no foreign key: the chunks are written before the import
-- they belong to, which is inserted once the file is read and found
-- sound; chunks whose import never came (an upload broken off, a replica
-- that died) are deleted by the workers' retention pass after a day.
CREATE TABLE import_file_chunks (
  import_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  data BYTEA NOT NULL,
  created_at TIMESTAMPTZ NOT NULL,
  PRIMARY KEY (import_id, seq)
);
INSERT INTO import_file_chunks (import_id, seq, data, created_at)
  SELECT f.import_id, 0, f.data, i.created_at FROM import_files f JOIN imports i ON i.id = f.import_id;
DROP TABLE import_files;
-- When the retention pass deleted a finished import's file: its report
-- then lists the rows' results without the file's cells.
ALTER TABLE imports ADD COLUMN file_deleted_at TIMESTAMPTZ;

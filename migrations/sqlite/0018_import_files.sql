-- An import's file in a table of its own (src/imports/imports.service.ts). In the import's row,
-- every progress update (one per 500-row chunk) rewrote the whole file with it: SQLite writes a
-- changed row out in full, overflow pages and all. Measured with a 50 MB, 100,000-row file:
-- 63-67 ms an update (up to 385 ms when it set off a WAL checkpoint), 13 s of the 14-17 s a dry
-- run took; 2.3-3 s with the file apart. The file is written once, when the import is queued,
-- read when the runner reads it, and goes when the import is done with it: a real import's (and
-- a failed one's) once it finishes, a finished check's when it is run for real or deleted.
CREATE TABLE import_files (
  import_id TEXT PRIMARY KEY REFERENCES imports (id) ON DELETE CASCADE,
  data      TEXT NOT NULL -- the source as sent
) STRICT;
INSERT INTO import_files (import_id, data) SELECT id, data FROM imports WHERE data IS NOT NULL;
-- No index, constraint, view or trigger names the column, so SQLite may drop it in place.
ALTER TABLE imports DROP COLUMN data;

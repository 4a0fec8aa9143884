-- PostgreSQL twin of migrations/sqlite/0018_import_files.sql (rules: 0001_initial.sql). An
-- import's file in a table of its own: in the import's row, every progress update rewrote it on
-- SQLite. (PostgreSQL keeps a large value out of line and an update copies only its pointer;
-- the table is the same on both all the same.)
CREATE TABLE import_files (
  import_id TEXT PRIMARY KEY REFERENCES imports (id) ON DELETE CASCADE,
  data      TEXT NOT NULL -- the source as sent
);
INSERT INTO import_files (import_id, data) SELECT id, data FROM imports WHERE data IS NOT NULL;
ALTER TABLE imports DROP COLUMN data;

-- Link imports (POST /api/v1/imports, `linkqr links import`, Links → Import): a job that reads
-- another tool's export, checks every row and creates the links, a chunk per transaction, with a
-- per-row report. `data` is the source as sent, kept so a crashed job resumes at `processed` and
-- a dry run can be run for real; it is dropped once a real import is done.
CREATE TABLE imports (
  id                 TEXT PRIMARY KEY,
  workspace_id       TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  format             TEXT NOT NULL,
  dry_run            INTEGER NOT NULL CHECK (dry_run IN (0, 1)),
  domain             TEXT,          -- every link on this domain; NULL: each row's own
  status             TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'failed')),
  data               TEXT,
  total              INTEGER NOT NULL DEFAULT 0,
  processed          INTEGER NOT NULL DEFAULT 0,
  created            INTEGER NOT NULL DEFAULT 0, -- links made (a dry run: that would be)
  skipped            INTEGER NOT NULL DEFAULT 0, -- rows not imported: invalid, conflicting, over the plan
  error              TEXT,          -- why a failed import stopped
  lease_until        INTEGER,       -- the instance running it holds it until then
  created_by_user_id TEXT,
  created_by_key_id  TEXT,
  created_at         INTEGER NOT NULL,
  updated_at         INTEGER NOT NULL,
  finished_at        INTEGER
) STRICT;
CREATE INDEX imports_by_workspace ON imports (workspace_id, id);
CREATE INDEX imports_unfinished ON imports (status) WHERE status IN ('queued', 'running');

-- One row per source record: what happened to it.
CREATE TABLE import_rows (
  import_id TEXT NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
  line      INTEGER NOT NULL,
  outcome   TEXT NOT NULL CHECK (outcome IN ('created', 'would_create', 'invalid', 'conflict', 'over_limit')),
  link_id   TEXT,
  slug      TEXT,
  problems  TEXT NOT NULL DEFAULT '[]', -- JSON [{field, message}]
  PRIMARY KEY (import_id, line)
) STRICT;

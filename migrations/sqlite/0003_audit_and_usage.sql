-- Who changed what, per workspace (workspace_id is null for instance-wide changes such as plans).
-- No foreign key: the history outlives what it talks about.
CREATE TABLE audit_log (
  id          INTEGER PRIMARY KEY,
  workspace_id TEXT,
  actor_type  TEXT NOT NULL CHECK (actor_type IN ('user', 'key', 'operator')),
  actor_id    TEXT NOT NULL,  -- user id, key id, or "cli:<os user>" for the command line
  action      TEXT NOT NULL,  -- link.create, key.revoke, webhook.rotate_secret, member.role, plan.upsert …
  target_type TEXT NOT NULL,
  target_id   TEXT,
  summary     TEXT NOT NULL DEFAULT '{}', -- JSON: what changed, never a secret
  ip          TEXT,
  created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX audit_log_by_workspace ON audit_log (workspace_id, id);
CREATE INDEX audit_log_by_time ON audit_log (created_at); -- retention

-- Human and total clicks per workspace per calendar month (UTC), kept by the click batches:
-- the plan's clicksPerMonth limit is measured here without counting the clicks table.
CREATE TABLE monthly_clicks (
  workspace_id TEXT NOT NULL,
  month        TEXT NOT NULL, -- YYYY-MM
  human        INTEGER NOT NULL DEFAULT 0,
  total        INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (workspace_id, month)
) STRICT, WITHOUT ROWID;

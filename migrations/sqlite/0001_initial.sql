-- Times are milliseconds since the epoch (UTC); JSON columns hold arrays/objects as text.

CREATE TABLE settings (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;

CREATE TABLE plans (
  id         TEXT PRIMARY KEY,
  name       TEXT NOT NULL UNIQUE COLLATE NOCASE,
  features   TEXT NOT NULL, -- {"api":true,"webhooks":true,"qr":true,"analytics":true}
  limits     TEXT NOT NULL, -- {"links":100,...}; a missing limit means unlimited
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;

INSERT INTO plans (id, name, features, limits, created_at, updated_at)
VALUES ('pln_default', 'default', '{"api":true,"webhooks":true,"qr":true,"analytics":true}', '{}',
        unixepoch() * 1000, unixepoch() * 1000);

CREATE TABLE workspaces (
  id         TEXT PRIMARY KEY,
  name       TEXT NOT NULL UNIQUE COLLATE NOCASE,
  plan_id    TEXT NOT NULL REFERENCES plans (id),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE users (
  id                TEXT PRIMARY KEY,
  email             TEXT NOT NULL UNIQUE COLLATE NOCASE,
  password_hash     TEXT NOT NULL,
  is_instance_admin INTEGER NOT NULL DEFAULT 0,
  created_at        INTEGER NOT NULL,
  updated_at        INTEGER NOT NULL
) STRICT;

CREATE TABLE memberships (
  workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  role         TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'member', 'viewer')),
  created_at   INTEGER NOT NULL,
  PRIMARY KEY (workspace_id, user_id)
) STRICT;
CREATE INDEX memberships_by_user ON memberships (user_id);

CREATE TABLE api_keys (
  id                         TEXT PRIMARY KEY, -- the 12-char id embedded in the key
  workspace_id               TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  name                       TEXT NOT NULL,
  environment                TEXT NOT NULL,
  scopes                     TEXT NOT NULL, -- JSON array
  secret_hash                TEXT NOT NULL, -- argon2id of the 32-char secret
  previous_secret_hash       TEXT,          -- still accepted until previous_secret_expires_at (rotation)
  previous_secret_expires_at INTEGER,
  status                     TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled', 'revoked')),
  expires_at                 INTEGER,
  created_by_user_id         TEXT REFERENCES users (id) ON DELETE SET NULL,
  created_at                 INTEGER NOT NULL,
  updated_at                 INTEGER NOT NULL,
  revoked_at                 INTEGER,
  last_used_at               INTEGER,
  last_used_ip               TEXT,
  request_count              INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX api_keys_by_workspace ON api_keys (workspace_id, id);

CREATE TABLE links (
  id                 TEXT PRIMARY KEY,
  workspace_id       TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  slug               TEXT NOT NULL UNIQUE,
  url                TEXT NOT NULL,
  title              TEXT,
  tags               TEXT NOT NULL DEFAULT '[]', -- JSON array of strings
  status             TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  expires_at         INTEGER,
  expired_url        TEXT,
  max_clicks         INTEGER,
  redirect_code      INTEGER NOT NULL DEFAULT 302 CHECK (redirect_code IN (301, 302, 307, 308)),
  created_by_user_id TEXT,
  created_by_key_id  TEXT,
  clicks             INTEGER NOT NULL DEFAULT 0, -- human clicks; what maxClicks limits
  total_clicks       INTEGER NOT NULL DEFAULT 0, -- human + bot
  last_clicked_at    INTEGER,
  created_at         INTEGER NOT NULL,
  updated_at         INTEGER NOT NULL
) STRICT;
CREATE INDEX links_by_workspace ON links (workspace_id, id);

-- No foreign key to links: a click insert must not pay for a parent lookup, and deleting a
-- link must not cascade over millions of rows inside a request. Clicks of deleted links are
-- removed by the retention job.
CREATE TABLE clicks (
  id           INTEGER PRIMARY KEY,
  link_id      TEXT NOT NULL,
  workspace_id TEXT NOT NULL,
  clicked_at   INTEGER NOT NULL,
  bot          INTEGER NOT NULL, -- 1: HEAD request, known crawler or link-preview agent
  qr           INTEGER NOT NULL, -- 1: arrived through the QR URL (?qr=1)
  referrer     TEXT,
  user_agent   TEXT,
  ip_hash      TEXT              -- keyed hash; the address itself is never stored
) STRICT;
CREATE INDEX clicks_by_link_time ON clicks (link_id, clicked_at);

-- The outbox: written in the same transaction as the change that caused the event.
-- `payload` is the exact body webhook receivers get.
CREATE TABLE events (
  id           TEXT PRIMARY KEY,
  workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  type         TEXT NOT NULL,
  payload      TEXT NOT NULL,
  created_at   INTEGER NOT NULL
) STRICT;
CREATE INDEX events_by_workspace ON events (workspace_id, id);

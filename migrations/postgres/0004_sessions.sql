-- PostgreSQL twin of migrations/sqlite/0004_sessions.sql (rules: 0001_initial.sql).
-- Admin UI sign-in sessions. The browser's cookie holds a random 32-byte token; only its
-- SHA-256 is stored, so a copy of the database (a backup) signs nobody in.
CREATE TABLE sessions (
  id           TEXT PRIMARY KEY,  -- hex SHA-256 of the cookie token
  user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  workspace_id TEXT REFERENCES workspaces (id) ON DELETE SET NULL, -- the workspace the pages show
  csrf_token   TEXT NOT NULL,     -- sent back by every form (_csrf) and htmx request (X-CSRF-Token)
  flash        TEXT,              -- JSON {kind, text}: shown on the next page, then cleared
  created_at   BIGINT NOT NULL,
  last_seen_at BIGINT NOT NULL,   -- idle expiry counts from here
  expires_at   BIGINT NOT NULL,   -- absolute expiry, whatever the activity
  ip           TEXT,
  user_agent   TEXT
);
CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

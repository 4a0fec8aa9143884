-- One-time links to choose a password (Team page: "create a user"). The link carries a random
-- 32-byte token; only its SHA-256 is stored, so a copy of the database (a backup) sets no
-- password. A token is good for 24 hours and once.
CREATE TABLE password_tokens (
  id         TEXT PRIMARY KEY,  -- hex SHA-256 of the token in the link
  user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at    INTEGER            -- set when the password is chosen; the link is void from then on
) STRICT;
CREATE INDEX password_tokens_by_user ON password_tokens (user_id);

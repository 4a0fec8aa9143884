-- Two-factor sign-in with TOTP (RFC 6238, the codes of authenticator apps), src/users/two-factor.ts.
-- The shared secret must be read back to check codes, so it is sealed under the at-rest key
-- (src/secrets/secret-box.ts, context `user_totp.secret:<user id>`): a copy of the database
-- (a backup) holds no secret that makes codes.
CREATE TABLE user_totp (
  user_id        TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  secret         TEXT NOT NULL,             -- sealed
  enabled_at     INTEGER,                   -- NULL while the enrolment waits for its first code
  last_used_step INTEGER NOT NULL DEFAULT 0, -- the 30-second step of the last code taken: no code is taken twice
  created_at     INTEGER NOT NULL,
  updated_at     INTEGER NOT NULL
) STRICT;

-- One-time codes for when the authenticator is lost: shown once, only their SHA-256 is stored.
CREATE TABLE recovery_codes (
  user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  code_hash  TEXT NOT NULL,  -- hex SHA-256 of the code (80 random bits), without its dashes
  created_at INTEGER NOT NULL,
  used_at    INTEGER,        -- set when used: the code is void from then on
  PRIMARY KEY (user_id, code_hash)
) STRICT;

-- A sign-in whose password was right and which waits for the code. The browser's cookie holds a
-- random 32-byte token; only its SHA-256 is stored. In the database rather than in memory, so
-- that the code may reach another instance than the password did. Good for 10 minutes.
CREATE TABLE pending_sign_ins (
  id         TEXT PRIMARY KEY,  -- hex SHA-256 of the cookie token
  user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  next       TEXT,              -- where to go once signed in
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
) STRICT;
CREATE INDEX pending_sign_ins_by_expiry ON pending_sign_ins (expires_at);

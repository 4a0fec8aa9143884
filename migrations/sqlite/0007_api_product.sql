-- The API as a product: idempotency records, each key's request log, and networks a key may be used from.

-- JSON array of CIDRs the key may be used from; null: any address.
ALTER TABLE api_keys ADD COLUMN allowed_cidrs TEXT;

-- The first response to a POST with an Idempotency-Key, replayed for a retry with the same key
-- and body within 24 hours. Scoped per API key. `status` 0: the first request is still running.
CREATE TABLE idempotency_records (
  key_id          TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  request_hash    TEXT NOT NULL,  -- SHA-256 of method, path and body
  status          INTEGER NOT NULL,
  headers         TEXT NOT NULL,  -- JSON: the response headers a replay repeats (location, content-type)
  body            TEXT NOT NULL,
  created_at      INTEGER NOT NULL,
  PRIMARY KEY (key_id, idempotency_key)
) STRICT, WITHOUT ROWID;
CREATE INDEX idempotency_records_by_time ON idempotency_records (created_at);

-- Each key's recent requests (kept 30 days): which integration uses a key, before revoking it.
CREATE TABLE api_request_log (
  id           INTEGER PRIMARY KEY,
  key_id       TEXT NOT NULL,
  workspace_id TEXT NOT NULL,
  at           INTEGER NOT NULL,
  method       TEXT NOT NULL,
  path         TEXT NOT NULL,   -- without the query string
  status       INTEGER NOT NULL,
  duration_ms  INTEGER NOT NULL,
  ip           TEXT,
  request_id   TEXT
) STRICT;
CREATE INDEX api_request_log_by_key ON api_request_log (key_id, id);
CREATE INDEX api_request_log_by_time ON api_request_log (at);

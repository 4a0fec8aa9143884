-- PostgreSQL twin of migrations/sqlite/0008_secrets_at_rest.sql (rules: 0001_initial.sql).
-- Secrets that protect data no longer live in the data (issue 12).
--
-- webhook_endpoints.secret and .previous_secret, and idempotency_records.body, hold values
-- sealed with AES-256-GCM under a key kept outside the database (`enc:v1:…`, see
-- src/secrets/secret-box.ts). SQL cannot encrypt: the server seals what an older version left in
-- clear at start-up, and deletes the old visitor hash key (settings.ip_hash_key) then too.

-- Set when this instance's key cannot open the endpoint's secret (a lost or changed key): its
-- deliveries wait, pending, until someone rotates the secret.
ALTER TABLE webhook_endpoints ADD COLUMN secret_unreadable_since BIGINT;

-- Visitor hashes are keyed with a random salt per UTC day, kept sealed so that a restart during
-- the day keeps the day's visitors, and deleted once the day is over: no one holding this file,
-- or the at-rest key, can then tell which address a past day's hash was.
-- The day is a natural key that is always given, not a row id: no identity here.
CREATE TABLE visitor_salts (
  day  BIGINT PRIMARY KEY, -- UTC midnight of the day, epoch milliseconds
  salt TEXT NOT NULL       -- 32 random bytes, sealed
);

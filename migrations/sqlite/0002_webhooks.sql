-- Webhook endpoints, and the delivery side of the outbox (events are in 0001).

CREATE TABLE webhook_endpoints (
  id                         TEXT PRIMARY KEY,
  workspace_id               TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  url                        TEXT NOT NULL,
  description                TEXT NOT NULL DEFAULT '',
  events                     TEXT NOT NULL, -- JSON array of subscribed event types
  enabled                    INTEGER NOT NULL DEFAULT 1,
  disabled_reason            TEXT,          -- why LinkQR disabled it (410, 5 days of failures); null when a person did
  secret                     TEXT NOT NULL, -- whsec_…: HMAC needs it in clear to sign
  previous_secret            TEXT,          -- still signs until previous_secret_expires_at (rotation)
  previous_secret_expires_at INTEGER,
  failing_since              INTEGER,       -- first failed attempt since the last success
  last_success_at            INTEGER,
  created_at                 INTEGER NOT NULL,
  updated_at                 INTEGER NOT NULL
) STRICT;
CREATE INDEX webhook_endpoints_by_workspace ON webhook_endpoints (workspace_id, id);

CREATE TABLE webhook_deliveries (
  id               TEXT PRIMARY KEY,
  endpoint_id      TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
  event_id         TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
  workspace_id     TEXT NOT NULL,
  status           TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
  attempts         INTEGER NOT NULL DEFAULT 0,
  next_attempt_at  INTEGER,  -- while pending
  lease_until      INTEGER,  -- while an attempt is in flight; an expired lease is claimable again
  last_status_code INTEGER,
  last_error       TEXT,
  redelivery_of    TEXT,     -- the delivery a person asked to send again
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL
) STRICT;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, id);

CREATE TABLE webhook_attempts (
  id               INTEGER PRIMARY KEY,
  delivery_id      TEXT NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
  attempted_at     INTEGER NOT NULL,
  duration_ms      INTEGER NOT NULL,
  outcome          TEXT NOT NULL, -- success | failure | gone | throttled
  status_code      INTEGER,
  error_class      TEXT,           -- timeout, connection_refused, http_error, …
  error_detail     TEXT,           -- a sentence for the delivery log
  response_excerpt TEXT           -- first 20 KB of the response body
) STRICT;
CREATE INDEX webhook_attempts_by_delivery ON webhook_attempts (delivery_id, id);

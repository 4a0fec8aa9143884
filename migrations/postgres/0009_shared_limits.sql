-- PostgreSQL twin of migrations/sqlite/0009_shared_limits.sql (rules: 0001_initial.sql).
-- Rate limits and sign-in throttling that several instances share (issue 14).
--
-- With PostgreSQL, any number of instances serve one team, and a limit counted in each process
-- would let a key make N times its quota and a guesser N times its tries. Here the counters
-- live in these tables, changed by one atomic statement per request.
--
-- Buckets are named by a SHA-256 of what they count (a key id, a client address, an email as
-- typed), so these rows hold no address or email. Rows idle past their window are deleted.

-- The API rate limits (src/http/middleware/rate-limit.ts): a GCRA level per bucket.
CREATE TABLE rate_limit_buckets (
  bucket   TEXT PRIMARY KEY,
  level    BIGINT NOT NULL,  -- window milliseconds × requests, drained by the limit per millisecond
  at       BIGINT NOT NULL,  -- epoch milliseconds of the level
  admitted SMALLINT NOT NULL CHECK (admitted IN (0, 1)) -- the last request's verdict (what the upsert answers)
);

-- Sign-in attempts per account and per address in a sliding window, counted before the password
-- is checked; a successful one is taken back (src/sessions/login-throttle.ts).
CREATE TABLE sign_in_failures (
  bucket TEXT NOT NULL,
  at     BIGINT NOT NULL -- epoch milliseconds
);
CREATE INDEX sign_in_failures_by_bucket ON sign_in_failures (bucket, at);

-- Counter rows updated by every click batch keep room on their pages, so that an update can stay
-- on its page without touching the indexes (a HOT update): measured on a batch spread over 1,000
-- links, the rollup upserts took 0.55x the time and the links' counters 0.5x. New pages only:
-- existing rows move as they are next updated. SQLite has no such setting (see its 0009).
ALTER TABLE click_rollups SET (fillfactor = 70);
ALTER TABLE links SET (fillfactor = 70);
ALTER TABLE workspace_click_hours SET (fillfactor = 70);
ALTER TABLE monthly_clicks SET (fillfactor = 70);

-- The delivery queue can grow by thousands of rows in seconds (a burst of links while a receiver
-- is down): its planner statistics are refreshed after 2% of it changed rather than 10%, so the
-- claim's plan follows the backlog.
ALTER TABLE webhook_deliveries SET (autovacuum_analyze_scale_factor = 0.02, autovacuum_vacuum_scale_factor = 0.05);

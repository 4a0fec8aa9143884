-- Rate limits and sign-in throttling that several instances share (issue 14).
--
-- With PostgreSQL, any number of instances serve one team, and a limit counted in each process
-- would let a key make N times its quota and a guesser N times its tries. There, the counters
-- live in these tables, changed by one atomic statement per request. SQLite has one server per
-- data dir (linkqr.lock), which counts exactly in memory: the tables stay empty there, and
-- exist so that both schemas, and a copy between them, are the same.
--
-- Buckets are named by a SHA-256 of what they count (a key id, a client address, an email as
-- typed), so these rows hold no address or email. Rows idle past their window are deleted.

-- The API rate limits (src/http/middleware/rate-limit.ts): a GCRA level per bucket.
CREATE TABLE rate_limit_buckets (
  bucket   TEXT PRIMARY KEY,
  level    INTEGER NOT NULL, -- window milliseconds × requests, drained by the limit per millisecond
  at       INTEGER NOT NULL, -- epoch milliseconds of the level
  admitted INTEGER NOT NULL CHECK (admitted IN (0, 1)) -- the last request's verdict (what the upsert answers)
) STRICT;

-- Sign-in attempts per account and per address in a sliding window, counted before the password
-- is checked; a successful one is taken back (src/sessions/login-throttle.ts).
CREATE TABLE sign_in_failures (
  bucket TEXT NOT NULL,
  at     INTEGER NOT NULL -- epoch milliseconds
) STRICT;
CREATE INDEX sign_in_failures_by_bucket ON sign_in_failures (bucket, at);

-- PostgreSQL's 0009 also leaves room on the pages of the counter tables (fillfactor), which makes
-- its updates cheaper; SQLite has no such setting, and needs none: it rewrites a page either way.

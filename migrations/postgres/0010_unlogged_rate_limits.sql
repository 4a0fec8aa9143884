-- PostgreSQL twin of migrations/sqlite/0010_unlogged_rate_limits.sql (rules: 0001_initial.sql).
-- The API's rate-limit buckets without the write-ahead log.
--
-- Every API request writes its key's bucket and its address's: one row each, shared by all of a
-- key's requests on every instance. Logged, each write held its row until its commit had reached
-- the disk, so a key's requests took turns at the speed of the disk (measured: ~1 ms a request
-- under load, the API's slowest statements). An unlogged table writes no WAL and its commits do
-- not wait for the disk (0.17 ms against 0.32 ms an upsert here).
--
-- What that gives up: after a crash of the database server (not of an instance) the table is
-- empty, and a standby promoted to primary has none of it. Limits then start afresh, as they do
-- after a restart of a single SQLite server; no link, key or event depends on these rows.
--
-- A table in a publication (logical replication, change data capture: `FOR ALL TABLES` too)
-- cannot be unlogged: there it stays logged, slower and correct, rather than stop the upgrade.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_publication_tables WHERE schemaname = current_schema() AND tablename = 'rate_limit_buckets') THEN
    ALTER TABLE rate_limit_buckets SET UNLOGGED;
  END IF;
END
$$;

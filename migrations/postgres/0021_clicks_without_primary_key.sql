-- Clicks keep their id (the identity gives each click its own, and pages of raw clicks break
-- ties by it), but no primary key: nothing finds a click by its id alone, and the key was a
-- second btree written for every click. Without it PostgreSQL spends about a fifth less CPU per
-- click written (COPY of the click batches: 3.0 against 3.7 µs a click in the redirect
-- benchmark), and a database of 100M clicks has no multi-gigabyte index to keep cached.
-- The retention job finds the clicks it deletes by their place (ctid) and id instead
-- (src/jobs/retention.job.ts), with or without the key. The SQLite twin changes nothing: there
-- the id is the rowid.
--
-- A table in a publication (logical replication, change data capture: `FOR ALL TABLES` too)
-- needs its key to have its deletes published (replica identity): there it keeps it, as 0010
-- keeps such a table logged. So do tools that need a key (pg_repack): put clicks in a
-- publication before upgrading to keep it.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_publication_tables WHERE schemaname = current_schema() AND tablename = 'clicks') THEN
    ALTER TABLE clicks DROP CONSTRAINT clicks_pkey;
  END IF;
END
$$;

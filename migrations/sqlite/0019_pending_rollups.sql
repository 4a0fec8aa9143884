-- Each click batch's rollups wait here until they are applied to click_rollups and
-- workspace_click_hours (src/clicks/rollup-applier.ts), together with the other batches of the
-- last second or so. A batch's transaction used to upsert its rollup rows itself: about 2 of them
-- a click over 1,000 busy links (each link-day has a row per facet value), 6-7 µs each on
-- PostgreSQL here, half of the batch's time. Summed over many batches first, a link-day's rows
-- are written once a second instead of once a batch. The clicks and the counters limits read
-- (links, monthly_clicks) are still written by the batch itself; stats lag by the time to apply.
-- A batch's rows and its clicks commit together, and a row is deleted in the transaction that
-- applies it: each click is counted in the rollups exactly once, across crashes and instances.
-- A batch of many links leaves several rows (at most 4,000 rollup rows each).
-- AUTOINCREMENT: an id is never used twice, even once the table is empty, so an applier that read
-- a row cannot take a later batch that got its id for it (the apply checks it deleted every row it read).
CREATE TABLE pending_rollups (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  created_at INTEGER NOT NULL, -- epoch ms of the batch's last click
  rollups    TEXT NOT NULL     -- JSON, src/clicks/pending-rollups.ts
) STRICT;

-- Each link's day totals again, kept by workspace and day: the workspace summary's top links.
-- They were summed from click_rollups' day rows (facet 'all'), a link at a time: on SQLite an
-- index range a link, but on PostgreSQL a link's day rows lie on as many heap pages as it has
-- days (2,000 links × 91 days read 177,000 rows from a table of 4.3M: a parallel scan of it,
-- 650 ms, docs/scaling.md). Here a summary of a workspace's whole days reads one primary-key
-- range of its own rows. click_rollups keeps its day rows for a link's own series, read by link.
-- Written with the other rollups (src/clicks/rollup-applier.ts), from each link's workspace.
-- A deleted link's rows go with its other rollups (the retention job finds them by link_id).
CREATE TABLE workspace_link_days (
  workspace_id TEXT NOT NULL,
  day          INTEGER NOT NULL,
  link_id      TEXT NOT NULL,
  total        INTEGER NOT NULL,
  human        INTEGER NOT NULL,
  qr           INTEGER NOT NULL,
  PRIMARY KEY (workspace_id, day, link_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX workspace_link_days_by_link ON workspace_link_days (link_id);

-- The day rows applied so far; batches still pending add to both tables when they are applied.
INSERT INTO workspace_link_days (workspace_id, day, link_id, total, human, qr)
SELECT l.workspace_id, r.day, r.link_id, r.total, r.human, r.qr
FROM click_rollups r JOIN links l ON l.id = r.link_id
WHERE r.facet = 'all'
ORDER BY 1, 2, 3;

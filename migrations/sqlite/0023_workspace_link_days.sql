-- Each link's day totals, by workspace and day: they move here from click_rollups' day rows
-- (facet 'all'). The workspace summary's top links summed those a link at a time: on SQLite an
-- index range a link, but on PostgreSQL a link's day rows lie on as many heap pages as it has
-- days, in a table holding every facet's rows (2,000 links × 91 days: 176–345 ms at 10M clicks,
-- docs/scaling.md). Here a summary of a workspace's whole days reads one primary-key range of its
-- own rows, and a link's own series reads its days by (link_id, day). Written with the other
-- rollups (src/clicks/rollup-applier.ts), each link's row under its workspace; a deleted link's
-- rows go with its other rollups (the retention job finds them by link_id).
CREATE TABLE workspace_link_days (
  workspace_id TEXT NOT NULL,
  day          INTEGER NOT NULL,
  link_id      TEXT NOT NULL,
  total        INTEGER NOT NULL,
  human        INTEGER NOT NULL,
  qr           INTEGER NOT NULL,
  PRIMARY KEY (workspace_id, day, link_id)
) STRICT, WITHOUT ROWID;

-- The day rows applied so far (one per link and day: their value is always ''), those of links
-- that exist (the others go: nothing lists a deleted link's days). Batches still pending add here
-- when they are applied.
INSERT INTO workspace_link_days (workspace_id, day, link_id, total, human, qr)
SELECT l.workspace_id, r.day, r.link_id, r.total, r.human, r.qr
FROM click_rollups r JOIN links l ON l.id = r.link_id
WHERE r.facet = 'all'
ORDER BY 1, 2, 3;

CREATE INDEX workspace_link_days_by_link ON workspace_link_days (link_id, day);

DELETE FROM click_rollups WHERE facet = 'all';

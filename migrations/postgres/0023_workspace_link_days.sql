-- PostgreSQL twin of migrations/sqlite/0023_workspace_link_days.sql (rules: 0001_initial.sql),
-- which says why: each link's day totals by workspace and day, the summary's top links.
CREATE TABLE workspace_link_days (
  workspace_id TEXT NOT NULL,
  day          BIGINT NOT NULL,
  link_id      TEXT NOT NULL,
  total        BIGINT NOT NULL,
  human        BIGINT NOT NULL,
  qr           BIGINT NOT NULL,
  PRIMARY KEY (workspace_id, day, link_id)
) WITH (fillfactor = 70); -- updated in place, as the other rollups (0009 says why)

-- An apply under way (an instance of an older version left running) commits before the backfill
-- reads the day rows; later ones wait for this migration to end.
LOCK TABLE click_rollups IN SHARE MODE;

INSERT INTO workspace_link_days (workspace_id, day, link_id, total, human, qr)
SELECT l.workspace_id, r.day, r.link_id, r.total, r.human, r.qr
FROM click_rollups r JOIN links l ON l.id = r.link_id
WHERE r.facet = 'all'
ORDER BY 1, 2, 3;

-- PostgreSQL twin of migrations/sqlite/0023_workspace_link_days.sql (rules: 0001_initial.sql),
-- which says why: each link's day totals by workspace and day, the summary's top links.

-- First, before any statement takes the migration's snapshot (under repeatable read it is the
-- first statement's): an apply under way (an instance of an older version left running) commits
-- before the backfill reads the day rows, and later ones wait for this migration to end. An older
-- instance that goes on applying after it adds to click_rollups only: README's upgrade notes say
-- to stop the older instances first.
LOCK TABLE click_rollups IN SHARE MODE;

CREATE TABLE workspace_link_days (
  workspace_id TEXT NOT NULL,
  day          BIGINT NOT NULL,
  link_id      TEXT NOT NULL,
  total        BIGINT NOT NULL,
  human        BIGINT NOT NULL,
  qr           BIGINT NOT NULL,
  PRIMARY KEY (workspace_id, day, link_id)
) WITH (fillfactor = 70); -- updated in place, as the other rollups (0009 says why)
CREATE INDEX workspace_link_days_by_link ON workspace_link_days (link_id);

INSERT INTO workspace_link_days (workspace_id, day, link_id, total, human, qr)
SELECT l.workspace_id, r.day, r.link_id, r.total, r.human, r.qr
FROM click_rollups r JOIN links l ON l.id = r.link_id
WHERE r.facet = 'all'
ORDER BY 1, 2, 3;

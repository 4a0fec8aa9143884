-- The workspace summary's countries, per workspace, UTC day or hour, and country ('' unknown).
-- They were summed from each link's country rows of click_rollups (a summary of 91 days over
-- 2,000 links read 9.1M rows: 7.1 s at 100M clicks), and a partial day's from the clicks of the
-- links that still exist. Now whole days read a row per day and country, and the hours of a
-- partial day a row per hour and country (by hours alone, 91 days were ~400,000 rows at 10M
-- clicks: 157 ms). Written with the other rollups (src/clicks/rollup-applier.ts) from each
-- click's own workspace so, like workspace_click_hours, they keep the clicks of links deleted
-- since: they happened.
CREATE TABLE workspace_click_country_hours (
  workspace_id TEXT NOT NULL,
  hour         INTEGER NOT NULL,
  country      TEXT NOT NULL,
  total        INTEGER NOT NULL,
  human        INTEGER NOT NULL,
  qr           INTEGER NOT NULL,
  PRIMARY KEY (workspace_id, hour, country)
) STRICT, WITHOUT ROWID;

CREATE TABLE workspace_click_country_days (
  workspace_id TEXT NOT NULL,
  day          INTEGER NOT NULL,
  country      TEXT NOT NULL,
  total        INTEGER NOT NULL,
  human        INTEGER NOT NULL,
  qr           INTEGER NOT NULL,
  PRIMARY KEY (workspace_id, day, country)
) STRICT, WITHOUT ROWID;

-- The hours so far, from the clicks (those of deleted links too, until the retention job
-- removes them). One pass over the clicks: timed in the README's notes on upgrading.
INSERT INTO workspace_click_country_hours (workspace_id, hour, country, total, human, qr)
SELECT workspace_id, clicked_at - clicked_at % 3600000, coalesce(country, ''), count(*), sum(bot = 0), sum(qr)
FROM clicks GROUP BY 1, 2, 3;

-- Clicks the hours count but that are gone (those of links deleted before, which the retention
-- job removed) have an unknown country: the countries of an hour add up to its total.
INSERT INTO workspace_click_country_hours (workspace_id, hour, country, total, human, qr)
SELECT h.workspace_id, h.hour, '', h.total - coalesce(c.total, 0), h.human - coalesce(c.human, 0), h.qr - coalesce(c.qr, 0)
FROM workspace_click_hours h
LEFT JOIN (SELECT workspace_id, hour, sum(total) AS total, sum(human) AS human, sum(qr) AS qr FROM workspace_click_country_hours GROUP BY 1, 2) c
  ON c.workspace_id = h.workspace_id AND c.hour = h.hour
WHERE h.total > coalesce(c.total, 0) AND h.human >= coalesce(c.human, 0) AND h.qr >= coalesce(c.qr, 0)
ON CONFLICT (workspace_id, hour, country) DO UPDATE SET total = total + excluded.total, human = human + excluded.human, qr = qr + excluded.qr;

INSERT INTO workspace_click_country_days (workspace_id, day, country, total, human, qr)
SELECT workspace_id, hour - hour % 86400000, country, sum(total), sum(human), sum(qr)
FROM workspace_click_country_hours GROUP BY 1, 2, 3;

-- Batches whose rollups are still pending committed their clicks with them: those clicks are in
-- the rows above. Their pending rows take this version's format (src/clicks/pending-rollups.ts:
-- the workspace hours named "hours") with no countries, so that none is counted twice. A row
-- that is not JSON stays as it is, for the applier to report.
UPDATE pending_rollups
SET rollups = json_object('links', json(json_extract(rollups, '$.links')), 'hours', json(json_extract(rollups, '$.workspaces')), 'countries', json_array())
WHERE CASE WHEN json_valid(rollups) THEN json_type(rollups, '$.links') = 'array' AND json_type(rollups, '$.workspaces') = 'array' ELSE 0 END;

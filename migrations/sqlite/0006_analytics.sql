-- Click analytics: each click classified once (when its batch is written), and rollups kept by
-- the same batch transaction so stats read a few thousand rollup rows instead of millions of clicks.
-- Times are epoch milliseconds; `hour` and `day` are the UTC start of the bucket.

ALTER TABLE clicks ADD COLUMN device TEXT;        -- desktop | mobile | tablet | bot | other
ALTER TABLE clicks ADD COLUMN browser TEXT;       -- "Chrome", "Safari", "Slackbot", … (bounded names, never the raw agent)
ALTER TABLE clicks ADD COLUMN os TEXT;            -- "Windows", "iOS", …
ALTER TABLE clicks ADD COLUMN referrer_host TEXT; -- host of an http(s) referrer, null when direct

-- First time a QR code of the link was generated: what the plan's qrCodes limit counts.
ALTER TABLE links ADD COLUMN qr_generated_at INTEGER;

-- Everything the stats of one link need, one row per link, facet, UTC day and value:
--   all      ''           the day's totals
--   hour     '00'…'23'    the hour's totals (hourly series, partial days)
--   referrer host or ''  (no referrer)
--   device | browser | os
-- Keyed by link first, so a click batch updates a few neighbouring rows per link instead of
-- pages scattered over several tables, and a link's range of days is one index range per facet.
CREATE TABLE click_rollups (
  link_id TEXT NOT NULL,
  facet   TEXT NOT NULL,
  day     INTEGER NOT NULL,
  value   TEXT NOT NULL,
  total   INTEGER NOT NULL,
  human   INTEGER NOT NULL,
  qr      INTEGER NOT NULL,
  PRIMARY KEY (link_id, facet, day, value)
) STRICT, WITHOUT ROWID;

-- Per workspace per hour: the workspace summary's totals and series. Clicks of links deleted
-- since still count here: they happened.
CREATE TABLE workspace_click_hours (
  workspace_id TEXT NOT NULL,
  hour         INTEGER NOT NULL,
  total        INTEGER NOT NULL,
  human        INTEGER NOT NULL,
  qr           INTEGER NOT NULL,
  PRIMARY KEY (workspace_id, hour)
) STRICT, WITHOUT ROWID;

-- Clicks recorded before this version were never classified: they count as "other" devices
-- with unknown browser and OS, and without a referrer host.
UPDATE clicks SET device = CASE WHEN bot = 1 THEN 'bot' ELSE 'other' END, browser = 'Other', os = 'Other';

INSERT INTO click_rollups (link_id, facet, day, value, total, human, qr)
SELECT link_id, 'all', clicked_at - clicked_at % 86400000, '', count(*), sum(bot = 0), sum(qr) FROM clicks GROUP BY 1, 3
UNION ALL
SELECT link_id, 'hour', clicked_at - clicked_at % 86400000, printf('%02d', (clicked_at % 86400000) / 3600000), count(*), sum(bot = 0), sum(qr)
FROM clicks GROUP BY 1, 3, 4
UNION ALL
SELECT link_id, 'referrer', clicked_at - clicked_at % 86400000, '', count(*), sum(bot = 0), sum(qr) FROM clicks GROUP BY 1, 3
UNION ALL
SELECT link_id, 'device', clicked_at - clicked_at % 86400000, device, count(*), sum(bot = 0), sum(qr) FROM clicks GROUP BY 1, 3, 4
UNION ALL
SELECT link_id, 'browser', clicked_at - clicked_at % 86400000, 'Other', count(*), sum(bot = 0), sum(qr) FROM clicks GROUP BY 1, 3
UNION ALL
SELECT link_id, 'os', clicked_at - clicked_at % 86400000, 'Other', count(*), sum(bot = 0), sum(qr) FROM clicks GROUP BY 1, 3;

INSERT INTO workspace_click_hours (workspace_id, hour, total, human, qr)
SELECT workspace_id, clicked_at - clicked_at % 3600000, count(*), sum(bot = 0), sum(qr)
FROM clicks GROUP BY 1, 2;

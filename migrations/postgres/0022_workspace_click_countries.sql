-- PostgreSQL twin of migrations/sqlite/0022_workspace_click_countries.sql (rules: 0001_initial.sql),
-- which says why: the workspace summary's countries by workspace, UTC day or hour, and country.
CREATE TABLE workspace_click_country_hours (
  workspace_id TEXT NOT NULL,
  hour         BIGINT NOT NULL,
  country      TEXT NOT NULL,
  total        BIGINT NOT NULL,
  human        BIGINT NOT NULL,
  qr           BIGINT NOT NULL,
  PRIMARY KEY (workspace_id, hour, country)
) WITH (fillfactor = 70); -- updated in place, as the other rollups (0009 says why)

CREATE TABLE workspace_click_country_days (
  workspace_id TEXT NOT NULL,
  day          BIGINT NOT NULL,
  country      TEXT NOT NULL,
  total        BIGINT NOT NULL,
  human        BIGINT NOT NULL,
  qr           BIGINT NOT NULL,
  PRIMARY KEY (workspace_id, day, country)
) WITH (fillfactor = 70);

-- A click batch under way (an instance of an older version left running) commits before the
-- backfill reads the clicks, with its pending row; later ones wait for this migration to end.
LOCK TABLE clicks, pending_rollups IN SHARE MODE;

INSERT INTO workspace_click_country_hours (workspace_id, hour, country, total, human, qr)
SELECT workspace_id, clicked_at - clicked_at % 3600000, coalesce(country, ''), count(*), count(*) FILTER (WHERE bot = 0), sum(qr)
FROM clicks GROUP BY 1, 2, 3;

INSERT INTO workspace_click_country_hours (workspace_id, hour, country, total, human, qr)
SELECT h.workspace_id, h.hour, '', h.total - coalesce(c.total, 0), h.human - coalesce(c.human, 0), h.qr - coalesce(c.qr, 0)
FROM workspace_click_hours h
LEFT JOIN (SELECT workspace_id, hour, sum(total) AS total, sum(human) AS human, sum(qr) AS qr FROM workspace_click_country_hours GROUP BY 1, 2) c
  ON c.workspace_id = h.workspace_id AND c.hour = h.hour
WHERE h.total > coalesce(c.total, 0) AND h.human >= coalesce(c.human, 0) AND h.qr >= coalesce(c.qr, 0)
ON CONFLICT (workspace_id, hour, country) DO UPDATE SET total = workspace_click_country_hours.total + excluded.total,
  human = workspace_click_country_hours.human + excluded.human, qr = workspace_click_country_hours.qr + excluded.qr;

INSERT INTO workspace_click_country_days (workspace_id, day, country, total, human, qr)
SELECT workspace_id, hour - hour % 86400000, country, sum(total), sum(human), sum(qr)
FROM workspace_click_country_hours GROUP BY 1, 2, 3;

-- As on SQLite: pending batches' clicks are in the rows above, so their rows take this version's
-- format with no countries. Row by row, so that one that is not JSON is left as it is.
DO $$
DECLARE
  pending record;
  parsed jsonb;
BEGIN
  FOR pending IN SELECT id, rollups FROM pending_rollups LOOP
    BEGIN
      parsed := pending.rollups::jsonb;
    EXCEPTION WHEN invalid_text_representation THEN
      CONTINUE;
    END;
    IF jsonb_typeof(parsed->'links') = 'array' AND jsonb_typeof(parsed->'workspaces') = 'array' THEN
      UPDATE pending_rollups
      SET rollups = jsonb_build_object('links', parsed->'links', 'hours', parsed->'workspaces', 'countries', '[]'::jsonb)::text
      WHERE id = pending.id;
    END IF;
  END LOOP;
END
$$;

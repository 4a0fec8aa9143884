-- PostgreSQL twin of migrations/sqlite/0022_workspace_click_countries.sql (rules: 0001_initial.sql),
-- which says why: the workspace summary's countries by workspace, UTC hour and country.
CREATE TABLE workspace_click_countries (
  workspace_id TEXT NOT NULL,
  hour         BIGINT NOT NULL,
  country      TEXT NOT NULL,
  total        BIGINT NOT NULL,
  human        BIGINT NOT NULL,
  qr           BIGINT NOT NULL,
  PRIMARY KEY (workspace_id, hour, country)
) WITH (fillfactor = 70); -- updated in place, as the other rollups (0009 says why)

INSERT INTO workspace_click_countries (workspace_id, hour, country, total, human, qr)
SELECT workspace_id, clicked_at - clicked_at % 3600000, coalesce(country, ''), count(*), count(*) FILTER (WHERE bot = 0), sum(qr)
FROM clicks GROUP BY 1, 2, 3;

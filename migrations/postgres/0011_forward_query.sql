-- PostgreSQL twin of migrations/sqlite/0011_forward_query.sql (rules: 0001_initial.sql).
-- Query forwarding (issue 15): a visitor's query string on the short URL is added to the
-- destination (`/spring?utm_source=mail`), per link, on unless the link turns it off. Existing
-- links forward too, as the issue asks of every link by default (src/links/forward-query.ts).
ALTER TABLE links ADD COLUMN forward_query SMALLINT NOT NULL DEFAULT 1 CHECK (forward_query IN (0, 1));

-- Per-link destinations by device and country (JSON [{device?, country?, url}], first match wins;
-- NULL: none), an optional password (argon2id PHC string; NULL: none), and each click's country
-- (ISO 3166-1 alpha-2 from the shipped IP database, NULL when unknown). Rollups gain the facet
-- 'country' from the clicks recorded from now on.
ALTER TABLE links ADD COLUMN targets TEXT;
ALTER TABLE links ADD COLUMN password_hash TEXT;
ALTER TABLE clicks ADD COLUMN country TEXT;

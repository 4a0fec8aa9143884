-- A workspace's own domains (go.acme.com). Each link lives on one domain: '' is the host of
-- LINKQR_BASE_URL (so changing the base URL moves those links with it), anything else a
-- hostname in `domains`. Slugs are unique per domain, so `links` is rebuilt: SQLite cannot drop
-- the UNIQUE constraint on slug in place. Nothing references links by foreign key.
CREATE TABLE domains (
  id                 TEXT PRIMARY KEY,
  workspace_id       TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  hostname           TEXT NOT NULL UNIQUE, -- lower case, IDNs in punycode, no port
  root_redirect      TEXT,                 -- where `/` goes; null: a short page
  not_found_redirect TEXT,                 -- where unknown slugs go; null: the 404 page
  verification_token TEXT NOT NULL,        -- the TXT record _linkqr.<hostname> must hold it
  verified_at        INTEGER,                  -- null: not proven yet; no redirect, no TLS
  created_at         INTEGER NOT NULL,
  updated_at         INTEGER NOT NULL
) STRICT;
CREATE INDEX domains_by_workspace ON domains (workspace_id, id);

CREATE TABLE links_new (
  id                 TEXT PRIMARY KEY,
  workspace_id       TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  slug               TEXT NOT NULL,
  url                TEXT NOT NULL,
  title              TEXT,
  tags               TEXT NOT NULL DEFAULT '[]', -- JSON array of strings
  status             TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
  expires_at         INTEGER,
  expired_url        TEXT,
  max_clicks         INTEGER,
  redirect_code      INTEGER NOT NULL DEFAULT 302 CHECK (redirect_code IN (301, 302, 307, 308)),
  created_by_user_id TEXT,
  created_by_key_id  TEXT,
  clicks             INTEGER NOT NULL DEFAULT 0, -- human clicks; what maxClicks limits
  total_clicks       INTEGER NOT NULL DEFAULT 0, -- human + bot
  last_clicked_at    INTEGER,
  created_at         INTEGER NOT NULL,
  updated_at         INTEGER NOT NULL,
  qr_generated_at    INTEGER,
  forward_query      INTEGER NOT NULL DEFAULT 0 CHECK (forward_query IN (0, 1)),
  domain             TEXT NOT NULL DEFAULT ''
) STRICT;
INSERT INTO links_new (
  id, workspace_id, slug, url, title, tags, status, expires_at, expired_url, max_clicks, redirect_code,
  created_by_user_id, created_by_key_id, clicks, total_clicks, last_clicked_at, created_at, updated_at,
  qr_generated_at, forward_query
)
SELECT
  id, workspace_id, slug, url, title, tags, status, expires_at, expired_url, max_clicks, redirect_code,
  created_by_user_id, created_by_key_id, clicks, total_clicks, last_clicked_at, created_at, updated_at,
  qr_generated_at, forward_query
FROM links;
DROP TABLE links;
ALTER TABLE links_new RENAME TO links;
CREATE INDEX links_by_workspace ON links (workspace_id, id);
CREATE UNIQUE INDEX links_by_domain_slug ON links (domain, slug);

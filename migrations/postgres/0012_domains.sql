-- A workspace's own domains (go.acme.com). Each link lives on one domain: '' is the host of
-- LINKQR_BASE_URL (so changing the base URL moves those links with it), anything else a
-- hostname in `domains`. Slugs are unique per domain.
CREATE TABLE domains (
  id                 TEXT PRIMARY KEY,
  workspace_id       TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  hostname           TEXT NOT NULL UNIQUE, -- lower case, IDNs in punycode, no port
  root_redirect      TEXT,                 -- where `/` goes; null: a short page
  not_found_redirect TEXT,                 -- where unknown slugs go; null: the 404 page
  verification_token TEXT NOT NULL,        -- the TXT record _linkqr.<hostname> must hold it
  verified_at        BIGINT,                  -- null: not proven yet; no redirect, no TLS
  created_at         BIGINT NOT NULL,
  updated_at         BIGINT NOT NULL
);
CREATE INDEX domains_by_workspace ON domains (workspace_id, id);

-- A constant default: no table rewrite.
ALTER TABLE links ADD COLUMN domain TEXT NOT NULL DEFAULT '';
CREATE UNIQUE INDEX links_by_domain_slug ON links (domain, slug);
ALTER TABLE links DROP CONSTRAINT links_slug_key;

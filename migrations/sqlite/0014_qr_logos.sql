-- Logos drawn in the middle of QR codes (src/qr/logo.ts): one per workspace (link_id NULL) and one
-- per link, which wins over the workspace's. `bytes` is the logo as parseLogo keeps it (a PNG
-- without its metadata chunks, or the checked SVG text), at most 64 KB; `sha256` is its hash
-- (base64url), part of the ETag of every code drawn with it and the key of the parsed-logo cache.
-- link_id has no foreign key, as clicks have none: a migration that rebuilds `links` on SQLite
-- (0012 did) drops the table, and with foreign keys on that would delete every link's logo with
-- it. Deleting a link deletes its logo in the same transaction instead.
CREATE TABLE qr_logos (
  id           INTEGER PRIMARY KEY,
  workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
  link_id      TEXT,
  content_type TEXT NOT NULL CHECK (content_type IN ('image/png', 'image/svg+xml')),
  bytes        BLOB NOT NULL,
  sha256       TEXT NOT NULL,
  created_at   INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX qr_logos_of_workspaces ON qr_logos (workspace_id) WHERE link_id IS NULL;
CREATE UNIQUE INDEX qr_logos_of_links ON qr_logos (link_id) WHERE link_id IS NOT NULL;

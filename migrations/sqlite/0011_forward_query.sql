-- Query forwarding (issue 15): a visitor's query string on the short URL is added to the
-- destination (`/spring?utm_source=mail`), per link (src/links/forward-query.ts). New links
-- forward unless they turn it off (the service writes 1). Links made before keep redirecting to
-- their destination exactly as stored (0): some point at signed URLs (a presigned S3 link), which an
-- added parameter would break, and their owners chose them under that rule.
ALTER TABLE links ADD COLUMN forward_query INTEGER NOT NULL DEFAULT 0 CHECK (forward_query IN (0, 1));

-- The API's rate-limit buckets without the write-ahead log: a PostgreSQL change (see its 0010).
-- On SQLite the buckets are counted in memory (0009) and this table stays empty; the migration
-- exists so that both dialects keep the same numbering.
SELECT 1;

-- PostgreSQL's clicks table loses its primary key in its 0021 (which says why). Here the id is
-- the rowid, the table's own b-tree, which costs nothing more to keep: nothing changes.
SELECT 1;

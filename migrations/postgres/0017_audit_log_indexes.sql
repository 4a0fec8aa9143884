-- PostgreSQL twin of migrations/sqlite/0017_audit_log_indexes.sql (rules: 0001_initial.sql): a
-- page is one index range; the filters' columns ride along in the time index.
DROP INDEX audit_log_by_workspace;
CREATE INDEX audit_log_by_workspace_time ON audit_log (workspace_id, created_at, id, action, actor_type, actor_id, target_type);
CREATE INDEX audit_log_by_target ON audit_log (workspace_id, target_id, created_at, id);

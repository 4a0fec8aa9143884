-- PostgreSQL twin of migrations/sqlite/0017_audit_log_indexes.sql (rules: 0001_initial.sql): the
-- indexes that keep every page of the Audit log, filtered or not, one index range.
DROP INDEX audit_log_by_workspace;
CREATE INDEX audit_log_by_workspace_time ON audit_log (workspace_id, created_at, id);
CREATE INDEX audit_log_by_action ON audit_log (workspace_id, action, created_at, id);
CREATE INDEX audit_log_by_actor ON audit_log (workspace_id, actor_type, actor_id, created_at, id);
CREATE INDEX audit_log_by_target_type ON audit_log (workspace_id, target_type, created_at, id);
CREATE INDEX audit_log_by_target ON audit_log (workspace_id, target_id, created_at, id);

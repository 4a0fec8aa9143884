-- The Audit log at volume (src/audit/audit.repo.ts). A page is a range of (created_at, id) in one
-- workspace, newest first, and each filter is an equality (action; actor type and id; target type;
-- target id) that one of these indexes leads with before (created_at, id): a page, however deep in
-- the log or narrowly filtered, is one index range, never a sort or a walk through every entry of
-- the workspace. The same indexes give the filters' choices (the actions, actors and kinds of
-- target present) a lookup per value. The index by (workspace_id, id) served the old
-- "latest 100 by id" list, which orders by time now.
DROP INDEX audit_log_by_workspace;
CREATE INDEX audit_log_by_workspace_time ON audit_log (workspace_id, created_at, id);
CREATE INDEX audit_log_by_action ON audit_log (workspace_id, action, created_at, id);
CREATE INDEX audit_log_by_actor ON audit_log (workspace_id, actor_type, actor_id, created_at, id);
CREATE INDEX audit_log_by_target_type ON audit_log (workspace_id, target_type, created_at, id);
CREATE INDEX audit_log_by_target ON audit_log (workspace_id, target_id, created_at, id);

-- PostgreSQL twin of migrations/sqlite/0020_deliveries_due_by_endpoint.sql (rules: 0001_initial.sql),
-- which says why.
CREATE INDEX webhook_deliveries_due_by_endpoint ON webhook_deliveries (endpoint_id, next_attempt_at) WHERE status = 'pending';

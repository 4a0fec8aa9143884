-- An endpoint's due deliveries in due order (src/outbox/deliveries.repo.ts claimDueOfEndpoint):
-- the dispatcher holds a few of a busy endpoint's deliveries ahead and tops them up from here,
-- reading only the rows it takes. Topped up from the due index instead, a claim read a window of
-- every endpoint's due deliveries to take two or three of one: a quarter of the server's time
-- in a drain (profiled).
CREATE INDEX webhook_deliveries_due_by_endpoint ON webhook_deliveries (endpoint_id, next_attempt_at) WHERE status = 'pending';

-- Fan-out moves off the request path: a change's transaction writes one
-- event row (when any active hook listens), and the delivery worker turns
-- it into one delivery per subscribed hook, then stamps `fanned_out_at`.
-- With 10 hooks the request wrote 10 delivery rows and their 3 indexes
-- inside the study's transaction (docs/benchmarks.md §7); now it writes 1.
ALTER TABLE webhook_events ADD COLUMN fanned_out_at BIGINT;
-- Events written before this migration already have their deliveries.
UPDATE webhook_events SET fanned_out_at = created_at;
-- The worker's queue: only events still to fan out, oldest first.
CREATE INDEX webhook_events_fanout ON webhook_events(created_at) WHERE fanned_out_at IS NULL;
-- Nothing reads events by workspace (the worker goes by fanned_out_at,
-- deliveries by id): one index less for every announced change to write.
DROP INDEX webhook_events_workspace;

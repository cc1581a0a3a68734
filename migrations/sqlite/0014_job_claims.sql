-- Background jobs on several instances: an outbox row is claimed before it is sent (the
-- claim moves `next_attempt_at` to the end of a lease, so a killed instance's claims come due
-- again), and a message refused permanently is given up after a few attempts.
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE outbox ADD COLUMN given_up_at TEXT;
DROP INDEX outbox_due;
CREATE INDEX outbox_due ON outbox(next_attempt_at) WHERE sent_at IS NULL AND given_up_at IS NULL;

-- 0011_events: every account event kept for the events stream
-- (GET /v1/events, resumable by event id) whether or not a webhook
-- endpoint subscribes; endpoint secret rotation with a grace period; and
-- the delivery creation time the pruner compares. Times are unix ms.

CREATE TABLE events (
	seq        INTEGER PRIMARY KEY AUTOINCREMENT, -- stream order
	id         TEXT NOT NULL UNIQUE,
	account_id TEXT NOT NULL,
	type       TEXT NOT NULL,
	call_id    TEXT NOT NULL DEFAULT '',
	payload    TEXT NOT NULL,
	created_ms INTEGER NOT NULL
);
CREATE INDEX events_account ON events(account_id, seq);
CREATE INDEX events_created ON events(created_ms);

-- The secret replaced by the last rotation still signs (a second entry in
-- webhook-signature) until previous_until_ms.
ALTER TABLE webhook_endpoints ADD COLUMN previous_secret TEXT NOT NULL DEFAULT '';
ALTER TABLE webhook_endpoints ADD COLUMN previous_until_ms INTEGER NOT NULL DEFAULT 0;

ALTER TABLE webhook_deliveries ADD COLUMN created_ms INTEGER NOT NULL DEFAULT 0;
UPDATE webhook_deliveries SET created_ms = expires_ms - 86400000;
CREATE INDEX webhook_deliveries_created ON webhook_deliveries(created_ms);

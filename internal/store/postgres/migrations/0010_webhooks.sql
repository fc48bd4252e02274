-- 0010_webhooks (PostgreSQL twin): per-account webhook endpoints and the
-- durable outbox of their deliveries. An event is fanned out to the
-- subscribed endpoints when it is written (for call.ended, in the
-- record's transaction); the delivery worker drains due rows. Times the
-- worker compares are unix milliseconds.

CREATE TABLE webhook_endpoints (
	id         TEXT PRIMARY KEY,
	account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
	url        TEXT NOT NULL,
	events     TEXT NOT NULL, -- JSON array of event types
	secret     TEXT NOT NULL,
	enabled    BOOLEAN NOT NULL DEFAULT TRUE,
	created_at TEXT NOT NULL,
	seq        BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE
);
CREATE INDEX webhook_endpoints_account ON webhook_endpoints (account_id);

CREATE TABLE webhook_deliveries (
	seq             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id              TEXT NOT NULL UNIQUE,
	endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
	event_id        TEXT NOT NULL,
	type            TEXT NOT NULL,
	call_id         TEXT NOT NULL DEFAULT '',
	payload         TEXT NOT NULL,
	status          TEXT NOT NULL DEFAULT 'pending',
	attempts        BIGINT NOT NULL DEFAULT 0,
	last_error      TEXT NOT NULL DEFAULT '',
	next_attempt_ms BIGINT NOT NULL,
	expires_ms      BIGINT NOT NULL,
	delivered_at    TEXT,
	created_at      TEXT NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_ms);
CREATE INDEX webhook_deliveries_call ON webhook_deliveries (endpoint_id, call_id, status);

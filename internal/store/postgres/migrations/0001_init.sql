-- 0001_init (PostgreSQL twin of sqlite/migrations/0001_init.sql): the
-- initial schema. Times are RFC 3339 (nanosecond) UTC text, as on SQLite,
-- so one encoder serves both engines. seq orders rows by insertion (SQLite's
-- rowid) for paging.

CREATE TABLE accounts (
	id                TEXT PRIMARY KEY,
	name              TEXT NOT NULL,
	default_caller_id TEXT NOT NULL DEFAULT '',
	created_at        TEXT NOT NULL,
	seq               BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE
);

CREATE TABLE users (
	id                   TEXT PRIMARY KEY,
	account_id           TEXT NOT NULL,
	name                 TEXT NOT NULL,
	extension            TEXT NOT NULL,
	sip_username         TEXT NOT NULL DEFAULT '',
	sip_password         TEXT NOT NULL DEFAULT '',
	do_not_disturb       BOOLEAN NOT NULL DEFAULT FALSE,
	ring_timeout_seconds BIGINT NOT NULL DEFAULT 0,
	token_generation     BIGINT NOT NULL DEFAULT 0,
	created_at           TEXT NOT NULL,
	updated_at           TEXT NOT NULL,
	seq                  BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
	UNIQUE (account_id, extension)
);

CREATE UNIQUE INDEX users_sip_username ON users (sip_username) WHERE sip_username <> '';

CREATE TABLE phone_numbers (
	id         TEXT PRIMARY KEY,
	account_id TEXT NOT NULL,
	number     TEXT NOT NULL UNIQUE,
	user_id    TEXT REFERENCES users (id) ON DELETE SET NULL,
	created_at TEXT NOT NULL,
	seq        BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE
);

CREATE INDEX phone_numbers_account ON phone_numbers (account_id);
CREATE INDEX phone_numbers_user ON phone_numbers (user_id);

CREATE TABLE settings (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);

CREATE TABLE call_records (
	id           TEXT PRIMARY KEY,
	account_id   TEXT NOT NULL,
	direction    TEXT NOT NULL,
	from_user_id TEXT NOT NULL DEFAULT '',
	to_user_id   TEXT NOT NULL DEFAULT '',
	from_addr    TEXT NOT NULL DEFAULT '',
	from_name    TEXT NOT NULL DEFAULT '',
	to_addr      TEXT NOT NULL DEFAULT '',
	answered_by  TEXT NOT NULL DEFAULT '',
	started_at   TEXT NOT NULL,
	answered_at  TEXT,
	ended_at     TEXT,
	end_reason   TEXT NOT NULL DEFAULT '',
	legs         TEXT NOT NULL DEFAULT 'null',
	transfer     TEXT NOT NULL DEFAULT '',
	seq          BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE
);

CREATE INDEX call_records_account ON call_records (account_id);
CREATE INDEX call_records_from_user ON call_records (from_user_id);
CREATE INDEX call_records_to_user ON call_records (to_user_id);
CREATE INDEX call_records_open ON call_records (ended_at) WHERE ended_at IS NULL;

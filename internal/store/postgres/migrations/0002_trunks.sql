-- 0002_trunks (PostgreSQL twin): SIP trunks managed at runtime (the REST
-- API and the CLI), routed together with the config file's trunks. Lists
-- are JSON arrays in TEXT. Names are unique ignoring case (SQLite's
-- COLLATE NOCASE).

CREATE TABLE trunks (
	id                TEXT PRIMARY KEY,
	name              TEXT NOT NULL,
	host              TEXT NOT NULL,
	port              BIGINT NOT NULL DEFAULT 0,
	transport         TEXT NOT NULL DEFAULT '',
	username          TEXT NOT NULL DEFAULT '',
	password          TEXT NOT NULL DEFAULT '',
	prefixes          TEXT NOT NULL DEFAULT '[]',
	priority          BIGINT NOT NULL DEFAULT 0,
	inbound_addresses TEXT NOT NULL DEFAULT '[]',
	register          BOOLEAN NOT NULL DEFAULT FALSE,
	register_expires  BIGINT NOT NULL DEFAULT 0,
	created_at        TEXT NOT NULL,
	updated_at        TEXT NOT NULL,
	seq               BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE
);

CREATE UNIQUE INDEX trunks_name ON trunks (lower(name));

-- 0002_trunks: SIP trunks managed at runtime (the REST API and the CLI),
-- routed together with the config file's trunks. Lists are JSON arrays.

CREATE TABLE trunks (
	id                TEXT PRIMARY KEY,
	name              TEXT NOT NULL UNIQUE COLLATE NOCASE,
	host              TEXT NOT NULL,
	port              INTEGER NOT NULL DEFAULT 0,
	transport         TEXT NOT NULL DEFAULT '',
	username          TEXT NOT NULL DEFAULT '',
	password          TEXT NOT NULL DEFAULT '',
	prefixes          TEXT NOT NULL DEFAULT '[]',
	priority          INTEGER NOT NULL DEFAULT 0,
	inbound_addresses TEXT NOT NULL DEFAULT '[]',
	register          INTEGER NOT NULL DEFAULT 0,
	register_expires  INTEGER NOT NULL DEFAULT 0,
	created_at        TEXT NOT NULL,
	updated_at        TEXT NOT NULL
);

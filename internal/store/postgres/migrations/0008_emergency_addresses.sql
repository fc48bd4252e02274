-- 0008_emergency_addresses (PostgreSQL twin): civic addresses users
-- register for emergency calls, each optionally bound to the network
-- (source IP address) a device session presented it from; and the account
-- policy that requires one for calls through trunks.

CREATE TABLE emergency_addresses (
	id                TEXT PRIMARY KEY,
	user_id           TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	account_id        TEXT NOT NULL,
	address_number    TEXT NOT NULL DEFAULT '',
	street            TEXT NOT NULL,
	unit              TEXT NOT NULL DEFAULT '',
	city              TEXT NOT NULL,
	state             TEXT NOT NULL,
	postal_code       TEXT NOT NULL,
	country           TEXT NOT NULL DEFAULT 'US',
	formatted_address TEXT NOT NULL,
	registered_ip     TEXT,
	created_at        TEXT NOT NULL,
	seq               BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE
);

CREATE INDEX emergency_addresses_user ON emergency_addresses (user_id);

ALTER TABLE dial_plans ADD COLUMN emergency_address_required BOOLEAN NOT NULL DEFAULT FALSE;

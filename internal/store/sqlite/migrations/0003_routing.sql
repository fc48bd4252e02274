-- 0003_routing: dial plans, find-me/follow-me and ring groups; users may be
-- barred from trunks; numbers may ring a ring group. Lists are JSON arrays.

ALTER TABLE users ADD COLUMN can_call_external INTEGER NOT NULL DEFAULT 1;

-- A number rings a user or a ring group, never both (the store clears one
-- when it sets the other). Not a foreign key: SQLite cannot add one with a
-- non-NULL default, so the ring_groups_delete trigger un-routes instead.
ALTER TABLE phone_numbers ADD COLUMN ring_group_id TEXT NOT NULL DEFAULT '';

CREATE INDEX phone_numbers_ring_group ON phone_numbers (ring_group_id) WHERE ring_group_id <> '';

CREATE TABLE dial_plans (
	account_id          TEXT PRIMARY KEY,
	extension_length    INTEGER NOT NULL DEFAULT 0,
	country             TEXT NOT NULL DEFAULT '',
	emergency_numbers   TEXT NOT NULL DEFAULT '[]',
	emergency_trunk     TEXT NOT NULL DEFAULT '',
	international_allow TEXT NOT NULL DEFAULT '[]',
	max_outbound_calls  INTEGER NOT NULL DEFAULT 0,
	updated_at          TEXT NOT NULL
);

CREATE TABLE follow_me (
	user_id       TEXT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
	steps         TEXT NOT NULL DEFAULT '[]',
	final_forward TEXT NOT NULL DEFAULT '',
	updated_at    TEXT NOT NULL
);

CREATE TABLE ring_groups (
	id           TEXT PRIMARY KEY,
	account_id   TEXT NOT NULL,
	name         TEXT NOT NULL,
	extension    TEXT NOT NULL DEFAULT '',
	members      TEXT NOT NULL DEFAULT '[]',
	ring_seconds INTEGER NOT NULL DEFAULT 30,
	next         TEXT NOT NULL DEFAULT '',
	created_at   TEXT NOT NULL,
	updated_at   TEXT NOT NULL
);

CREATE INDEX ring_groups_account ON ring_groups (account_id);
CREATE UNIQUE INDEX ring_groups_extension ON ring_groups (account_id, extension) WHERE extension <> '';

-- Users and ring groups share an account's extensions. The triggers keep
-- the rule in the database so no code path can break it; the store maps
-- their messages to ErrConflict.
CREATE TRIGGER users_extension_insert BEFORE INSERT ON users
WHEN EXISTS (SELECT 1 FROM ring_groups WHERE account_id = NEW.account_id AND extension = NEW.extension)
BEGIN
	SELECT RAISE(ABORT, 'extension taken by a ring group');
END;

CREATE TRIGGER users_extension_update BEFORE UPDATE OF extension ON users
WHEN EXISTS (SELECT 1 FROM ring_groups WHERE account_id = NEW.account_id AND extension = NEW.extension)
BEGIN
	SELECT RAISE(ABORT, 'extension taken by a ring group');
END;

CREATE TRIGGER ring_groups_extension_insert BEFORE INSERT ON ring_groups
WHEN NEW.extension <> '' AND EXISTS (SELECT 1 FROM users WHERE account_id = NEW.account_id AND extension = NEW.extension)
BEGIN
	SELECT RAISE(ABORT, 'extension taken by a user');
END;

CREATE TRIGGER ring_groups_extension_update BEFORE UPDATE OF extension, account_id ON ring_groups
WHEN NEW.extension <> '' AND EXISTS (SELECT 1 FROM users WHERE account_id = NEW.account_id AND extension = NEW.extension)
BEGIN
	SELECT RAISE(ABORT, 'extension taken by a user');
END;

-- A number may only name a ring group that exists.
CREATE TRIGGER phone_numbers_ring_group_insert BEFORE INSERT ON phone_numbers
WHEN NEW.ring_group_id <> '' AND NOT EXISTS (SELECT 1 FROM ring_groups WHERE id = NEW.ring_group_id)
BEGIN
	SELECT RAISE(ABORT, 'ring group not found');
END;

CREATE TRIGGER phone_numbers_ring_group_update BEFORE UPDATE OF ring_group_id ON phone_numbers
WHEN NEW.ring_group_id <> '' AND NOT EXISTS (SELECT 1 FROM ring_groups WHERE id = NEW.ring_group_id)
BEGIN
	SELECT RAISE(ABORT, 'ring group not found');
END;

-- Deleting a ring group un-routes its numbers.
CREATE TRIGGER ring_groups_delete AFTER DELETE ON ring_groups
BEGIN
	UPDATE phone_numbers SET ring_group_id = '' WHERE ring_group_id = OLD.id;
END;

-- Deleting a user takes them out of every ring group (keeping the order
-- of the others).
CREATE TRIGGER users_delete_ring_groups AFTER DELETE ON users
BEGIN
	UPDATE ring_groups
	SET members = (SELECT json_group_array(m.value) FROM
		(SELECT value FROM json_each(ring_groups.members) WHERE value <> OLD.id ORDER BY key) AS m)
	WHERE account_id = OLD.account_id
		AND EXISTS (SELECT 1 FROM json_each(ring_groups.members) WHERE value = OLD.id);
END;

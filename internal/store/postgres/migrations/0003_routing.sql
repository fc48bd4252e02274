-- 0003_routing (PostgreSQL twin): dial plans, find-me/follow-me and ring
-- groups; users may be barred from trunks; numbers may ring a ring group.
-- Lists are JSON arrays in TEXT. The rules SQLite keeps in triggers are
-- triggers here too, raising the same messages (the store maps them).

ALTER TABLE users ADD COLUMN can_call_external BOOLEAN NOT NULL DEFAULT TRUE;

-- A number rings a user or a ring group, never both. Not a foreign key
-- (as on SQLite): the ring_groups_delete trigger un-routes instead.
ALTER TABLE phone_numbers ADD COLUMN ring_group_id TEXT NOT NULL DEFAULT '';

CREATE INDEX phone_numbers_ring_group ON phone_numbers (ring_group_id) WHERE ring_group_id <> '';

CREATE TABLE dial_plans (
	account_id          TEXT PRIMARY KEY,
	extension_length    BIGINT NOT NULL DEFAULT 0,
	country             TEXT NOT NULL DEFAULT '',
	emergency_numbers   TEXT NOT NULL DEFAULT '[]',
	emergency_trunk     TEXT NOT NULL DEFAULT '',
	international_allow TEXT NOT NULL DEFAULT '[]',
	max_outbound_calls  BIGINT NOT NULL DEFAULT 0,
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
	ring_seconds BIGINT NOT NULL DEFAULT 30,
	next         TEXT NOT NULL DEFAULT '',
	created_at   TEXT NOT NULL,
	updated_at   TEXT NOT NULL,
	seq          BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE
);

CREATE INDEX ring_groups_account ON ring_groups (account_id);
CREATE UNIQUE INDEX ring_groups_extension ON ring_groups (account_id, extension) WHERE extension <> '';

-- Users and ring groups share an account's extensions.
CREATE FUNCTION users_extension_check() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM ring_groups WHERE account_id = NEW.account_id AND extension = NEW.extension) THEN
		RAISE EXCEPTION 'extension taken by a ring group';
	END IF;
	RETURN NEW;
END $$;

CREATE TRIGGER users_extension_insert BEFORE INSERT ON users
	FOR EACH ROW EXECUTE FUNCTION users_extension_check();
CREATE TRIGGER users_extension_update BEFORE UPDATE OF extension ON users
	FOR EACH ROW EXECUTE FUNCTION users_extension_check();

CREATE FUNCTION ring_groups_extension_check() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.extension <> '' AND EXISTS (SELECT 1 FROM users WHERE account_id = NEW.account_id AND extension = NEW.extension) THEN
		RAISE EXCEPTION 'extension taken by a user';
	END IF;
	RETURN NEW;
END $$;

CREATE TRIGGER ring_groups_extension_insert BEFORE INSERT ON ring_groups
	FOR EACH ROW EXECUTE FUNCTION ring_groups_extension_check();
CREATE TRIGGER ring_groups_extension_update BEFORE UPDATE OF extension, account_id ON ring_groups
	FOR EACH ROW EXECUTE FUNCTION ring_groups_extension_check();

-- A number may only name a ring group that exists.
CREATE FUNCTION phone_numbers_ring_group_check() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.ring_group_id <> '' AND NOT EXISTS (SELECT 1 FROM ring_groups WHERE id = NEW.ring_group_id) THEN
		RAISE EXCEPTION 'ring group not found';
	END IF;
	RETURN NEW;
END $$;

CREATE TRIGGER phone_numbers_ring_group_insert BEFORE INSERT ON phone_numbers
	FOR EACH ROW EXECUTE FUNCTION phone_numbers_ring_group_check();
CREATE TRIGGER phone_numbers_ring_group_update BEFORE UPDATE OF ring_group_id ON phone_numbers
	FOR EACH ROW EXECUTE FUNCTION phone_numbers_ring_group_check();

-- Deleting a ring group un-routes its numbers.
CREATE FUNCTION ring_groups_unroute() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE phone_numbers SET ring_group_id = '' WHERE ring_group_id = OLD.id;
	RETURN OLD;
END $$;

CREATE TRIGGER ring_groups_delete AFTER DELETE ON ring_groups
	FOR EACH ROW EXECUTE FUNCTION ring_groups_unroute();

-- Deleting a user takes them out of every ring group (keeping the order
-- of the others).
CREATE FUNCTION users_leave_ring_groups() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE ring_groups
	SET members = (SELECT COALESCE(json_agg(m.value ORDER BY m.ord), '[]'::json)::text
		FROM jsonb_array_elements_text(ring_groups.members::jsonb) WITH ORDINALITY AS m(value, ord)
		WHERE m.value <> OLD.id)
	WHERE account_id = OLD.account_id
		AND EXISTS (SELECT 1 FROM jsonb_array_elements_text(ring_groups.members::jsonb) AS v(value) WHERE v.value = OLD.id);
	RETURN OLD;
END $$;

CREATE TRIGGER users_delete_ring_groups AFTER DELETE ON users
	FOR EACH ROW EXECUTE FUNCTION users_leave_ring_groups();

-- 0004_trunk_inbound_auth (PostgreSQL twin): what an INVITE from a stored
-- trunk's address must also show. inbound_auth is 'address' (or '' from
-- before: the same) or 'digest', which challenges the trunk's INVITEs for
-- inbound_username and inbound_password.

ALTER TABLE trunks ADD COLUMN inbound_auth TEXT NOT NULL DEFAULT '';
ALTER TABLE trunks ADD COLUMN inbound_username TEXT NOT NULL DEFAULT '';
ALTER TABLE trunks ADD COLUMN inbound_password TEXT NOT NULL DEFAULT '';

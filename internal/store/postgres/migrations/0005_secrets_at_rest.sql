-- 0005_secrets_at_rest (PostgreSQL twin): SIP passwords give way to their
-- digest HA1s (H(username:realm:password), MD5 and SHA-256), sealed with
-- the master key like trunk passwords and the token signing key. The
-- conversion of old rows needs the realm and the key, so it is Go
-- (convertSecrets, run at open); sip_password stays, always '' once
-- converted.

ALTER TABLE users ADD COLUMN sip_ha1_md5 TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN sip_ha1_sha256 TEXT NOT NULL DEFAULT '';

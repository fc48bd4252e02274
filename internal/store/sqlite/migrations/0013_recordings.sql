-- 0013_recordings: each account's recording policy, and the recordings
-- of calls (two-channel WAV files in the server's storage; the row keeps
-- the storage key, the paused spans and the size). Times the pruner
-- compares are unix milliseconds.

CREATE TABLE recording_policies (
	account_id     TEXT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
	mode           TEXT NOT NULL DEFAULT 'on_demand',
	beep           INTEGER NOT NULL DEFAULT 1,
	announcement   TEXT NOT NULL DEFAULT '',
	retention_days INTEGER NOT NULL DEFAULT 90,
	updated_at     TEXT NOT NULL
);

CREATE TABLE recordings (
	id            TEXT PRIMARY KEY,
	call_id       TEXT NOT NULL,
	account_id    TEXT NOT NULL,
	storage_key   TEXT NOT NULL,
	status        TEXT NOT NULL DEFAULT 'recording',
	sample_rate   INTEGER NOT NULL,
	channels      INTEGER NOT NULL,
	started_at    TEXT NOT NULL,
	started_ms    INTEGER NOT NULL,
	ended_at      TEXT,
	duration_ms   INTEGER NOT NULL DEFAULT 0,
	size_bytes    INTEGER NOT NULL DEFAULT 0,
	paused_spans  TEXT NOT NULL DEFAULT '[]' -- JSON [{start_ms, end_ms}]
);
CREATE INDEX recordings_call ON recordings(call_id);
CREATE INDEX recordings_account_started ON recordings(account_id, started_ms);

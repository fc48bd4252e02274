-- 0006_call_checkpoints: a live call refreshes its record every few seconds
-- (the legs' stats, when media was last seen), so a record left open by a
-- crash is closed at the last time the call was known alive, not at the
-- next start. Rows from before this migration have neither column and
-- close as before.

ALTER TABLE call_records ADD COLUMN checkpoint_at TEXT;
ALTER TABLE call_records ADD COLUMN last_media_at TEXT;

-- 0006_call_checkpoints (PostgreSQL twin): a live call refreshes its record
-- every few seconds (the legs' stats, when media was last seen), so a
-- record left open by a crash is closed at the last time the call was
-- known alive, not at the next start.

ALTER TABLE call_records ADD COLUMN checkpoint_at TEXT;
ALTER TABLE call_records ADD COLUMN last_media_at TEXT;

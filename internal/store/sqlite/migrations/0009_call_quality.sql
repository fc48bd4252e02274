-- 0009_call_quality: a call record keeps its legs' quality series (5-s
-- windows of estimated MOS, loss and jitter, at most an hour per leg) as
-- JSON, written when the call ends. NULL: none (records from before this
-- migration, calls that never carried media). The per-leg summary lives in
-- the legs column.

ALTER TABLE call_records ADD COLUMN quality TEXT;

-- 0009_call_quality (PostgreSQL twin): a call record keeps its legs'
-- quality series as JSON text, written when the call ends. NULL: none.

ALTER TABLE call_records ADD COLUMN quality TEXT;

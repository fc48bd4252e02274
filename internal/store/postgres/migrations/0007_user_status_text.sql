-- 0007_user_status_text (PostgreSQL twin): the short status a user sets for
-- their presence ("In a meeting until 3"), shown to watchers beside do not
-- disturb.

ALTER TABLE users ADD COLUMN status_text TEXT NOT NULL DEFAULT '';

-- 0014_user_role: a user is a plain user or an admin of their account
-- (admin users' tokens may use the admin API for their own account).

ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin'));

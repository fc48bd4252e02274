-- 0013_reserved: a placeholder on the admin branch for the migration number
-- another branch owns; the lead drops this file when merging that branch.
SELECT 1;

-- find_jobs: candidates for a job reference (D59), newest first, at most :limit of each kind.
-- Parameters: :prefix (the reference upper-cased, NULL under 4 characters), :suffix (its last 6
--   characters upper-cased, NULL under 6), :name (the reference as typed), :project (NULL: names
--   in every project), :limit. Result: full job rows, a job at most once.
-- Served by the primary key (prefix), jobs_short_id (suffix) and jobs_name (name).
SELECT * FROM (
  SELECT * FROM jobs WHERE id >= :prefix AND id < :prefix || 'ZZZZZZZZZZZZZZZZZZZZZZZZZZ'
  ORDER BY id DESC LIMIT +:limit
)
UNION
SELECT * FROM (SELECT * FROM jobs WHERE substr(id, 21) = :suffix ORDER BY id DESC LIMIT +:limit)
UNION
SELECT * FROM (
  SELECT * FROM jobs WHERE name = :name AND (:project IS NULL OR project = :project)
  ORDER BY id DESC LIMIT +:limit
)
ORDER BY id DESC

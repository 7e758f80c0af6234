-- find_jobs: candidates for a job reference (D59), newest first, at most $5 of each kind.
-- Parameters: $1 prefix (the reference upper-cased, NULL under 4 characters), $2 suffix (its last
--   6 characters upper-cased, NULL under 6), $3 name (the reference as typed), $4 project (NULL:
--   names in every project), $5 limit. Result: full job rows, a job at most once.
-- Served by the primary key (prefix), jobs_short_id (suffix) and jobs_name (name).
(SELECT * FROM jobs WHERE id >= $1::text AND id < $1::text || 'ZZZZZZZZZZZZZZZZZZZZZZZZZZ'
  ORDER BY id DESC LIMIT $5)
UNION
(SELECT * FROM jobs WHERE substr(id, 21) = $2::text ORDER BY id DESC LIMIT $5)
UNION
(SELECT * FROM jobs WHERE name = $3::text AND ($4::text IS NULL OR project = $4::text)
  ORDER BY id DESC LIMIT $5)
ORDER BY id DESC

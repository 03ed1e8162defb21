-- A job's life costs fewer writes.
--
-- Fewer indexes: each one costs on every insert, and on every claim and completion
-- when it holds `status` or a lease column.
-- - Listing by status uses `kiribi_jobs_by_status`, now without succeeded jobs: a
--   completion that succeeds removes the job from it and adds nothing. Succeeded jobs
--   are most of the table, so listing them newest first walks the table by id and
--   finds them at once; so does listing by name or queue.
-- - The reaper and lease renewal find running jobs (a handful per worker) through
--   the same index.
-- - Its ids ascend: a new job's entry goes at the right edge of its status, where
--   B-tree inserts are cheapest (PostgreSQL takes a fast path there; descending ids
--   split pages at the left edge). Listing newest first walks it backwards.
DROP INDEX kiribi_jobs_lease_owner;
DROP INDEX kiribi_jobs_lease_expiry;
DROP INDEX kiribi_jobs_by_name;
DROP INDEX kiribi_jobs_by_queue;
DROP INDEX kiribi_jobs_by_status;
CREATE INDEX kiribi_jobs_by_status ON kiribi_jobs (status, id)
    WHERE status <> 'succeeded';

-- Attempt records only for attempts that ended in an error (or were taken back).
-- The job row describes its latest attempt while it runs and once it succeeds
-- (`attempts`, `started_at`, `finished_at`, and now `attempted_by`, the worker), and
-- `attempts()` reads it from there, so the common path, one attempt that succeeds,
-- writes no attempt record at all.
ALTER TABLE kiribi_jobs ADD COLUMN attempted_by TEXT;

-- An attempt that ends in an error (running → retrying or failed with the same
-- attempt count: a failed attempt or a reaped lease; a release lowers the count)
-- records itself, in the statement that changes the job: at the job's `finished_at`
-- when the job is finished, else now. The upsert closes a record that an older
-- kiribi opened when it claimed the job.
CREATE TRIGGER kiribi_attempt_fails
AFTER UPDATE OF status ON kiribi_jobs
WHEN OLD.status = 'running' AND NEW.status IN ('retrying', 'failed')
     AND NEW.attempts = OLD.attempts
BEGIN
    INSERT INTO kiribi_attempts (job_id, attempt, worker, started_at, finished_at, error)
    VALUES (NEW.id, NEW.attempts, NEW.attempted_by, NEW.started_at,
            COALESCE(NEW.finished_at, CAST(unixepoch('subsec') * 1000 AS INTEGER)),
            NEW.last_error)
    ON CONFLICT (job_id, attempt) DO UPDATE
    SET finished_at = excluded.finished_at, error = excluded.error;
END;

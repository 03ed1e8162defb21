-- Fewer indexes on the job table: every one costs on each insert, and those with
-- `status` or lease columns on each claim and completion.
-- - Lease renewal walks `kiribi_jobs_lease_expiry`, which holds only running jobs
--   (a handful per worker), and filters them by owner.
-- - Listing by name or queue walks the table newest first and filters; listing by
--   status still has its index.
DROP INDEX kiribi_jobs_lease_owner;
DROP INDEX kiribi_jobs_by_name;
DROP INDEX kiribi_jobs_by_queue;

-- The attempt history follows the job row, inside the statement that changes it, so
-- that a claim and a completion are each one statement (and, outside an explicit
-- transaction, one commit). Every statement costs a round trip to SQLite's thread.

-- A claim (any other state → running, one more attempt) opens the attempt record.
-- A released attempt's record is deleted, so its number is free again; the upsert
-- only guards against a leftover record poisoning a job forever.
CREATE TRIGGER kiribi_attempt_opens
AFTER UPDATE OF status ON kiribi_jobs
WHEN NEW.status = 'running' AND OLD.status <> 'running'
BEGIN
    INSERT INTO kiribi_attempts (job_id, attempt, worker, started_at)
    VALUES (NEW.id, NEW.attempts, NEW.lease_owner, NEW.started_at)
    ON CONFLICT (job_id, attempt) DO UPDATE
    SET worker = excluded.worker, started_at = excluded.started_at,
        finished_at = NULL, error = NULL;
END;

-- An attempt that ends (running → any other state with the same attempt count: a
-- completion or a reaped lease; a release lowers the count) closes its record: at
-- the job's `finished_at` when the job is finished, else now; with the job's error
-- unless it succeeded.
CREATE TRIGGER kiribi_attempt_closes
AFTER UPDATE OF status ON kiribi_jobs
WHEN OLD.status = 'running' AND NEW.status <> 'running' AND NEW.attempts = OLD.attempts
BEGIN
    UPDATE kiribi_attempts
    SET finished_at = COALESCE(NEW.finished_at, CAST(unixepoch('subsec') * 1000 AS INTEGER)),
        error = CASE WHEN NEW.status = 'succeeded' THEN NULL ELSE NEW.last_error END
    WHERE job_id = NEW.id AND attempt = NEW.attempts;
END;

-- The trigger that records failed attempts fires on `finished_at`, not `status`.
--
-- SQLite runs an AFTER UPDATE OF trigger for every row of every statement that sets
-- one of its columns, and evaluates its WHEN inside the trigger's sub-program: on
-- `status`, every claim paid it for every plain job it took, about 11,000
-- instructions a job in claims of 8 (bench/ablation/sqlite_features.py), for a
-- trigger that only ever records something when a running job's attempt ends.
-- Every statement that ends an attempt (the completions, the reaper's, a release,
-- a cancel) sets `finished_at`, NULL for a retry; claims never do, so they now run
-- no trigger. Same WHEN, same body.
DROP TRIGGER kiribi_attempt_fails;
CREATE TRIGGER kiribi_attempt_fails
AFTER UPDATE OF finished_at ON kiribi_jobs
WHEN OLD.status = 'running' AND NEW.status IN ('retrying', 'failed', 'cancelled')
     AND NEW.attempts = OLD.attempts
BEGIN
    INSERT INTO kiribi_attempts (job_id, attempt, worker, started_at, finished_at, error)
    VALUES (NEW.id, NEW.attempts, NEW.attempted_by, NEW.started_at,
            COALESCE(NEW.finished_at, CAST(unixepoch('subsec') * 1000 AS INTEGER)),
            NEW.last_error)
    ON CONFLICT (job_id, attempt) DO UPDATE
    SET finished_at = excluded.finished_at, error = excluded.error;
END;

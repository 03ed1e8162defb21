-- Cancelling a running job: the request is a flag on the job row, which its
-- worker reads for its own running jobs; a one-row counter of requests tells every
-- worker's commit watcher that there is something to read, so that a commit that
-- did not request a cancel (nearly all of them) costs a worker one primary-key read
-- and no scan of its running jobs.
--
-- A column with a constant default: SQLite adds it without rewriting the table.
ALTER TABLE kiribi_jobs ADD COLUMN cancel_requested INTEGER NOT NULL DEFAULT 0;

CREATE TABLE kiribi_cancel_signal (
    id       INTEGER PRIMARY KEY CHECK (id = 1),
    requests INTEGER NOT NULL
);
INSERT INTO kiribi_cancel_signal (id, requests) VALUES (1, 0);

-- Only statements that set `cancel_requested` fire it: claims and completions
-- do not name the column.
CREATE TRIGGER kiribi_cancel_requested
AFTER UPDATE OF cancel_requested ON kiribi_jobs
WHEN NEW.cancel_requested = 1 AND OLD.cancel_requested = 0
BEGIN
    UPDATE kiribi_cancel_signal SET requests = requests + 1 WHERE id = 1;
END;

-- A running job that ends cancelled records its attempt like a failed one, with
-- the reason as its error; a snoozed attempt (the count goes down) records nothing.
DROP TRIGGER kiribi_attempt_fails;
CREATE TRIGGER kiribi_attempt_fails
AFTER UPDATE OF status ON kiribi_jobs
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

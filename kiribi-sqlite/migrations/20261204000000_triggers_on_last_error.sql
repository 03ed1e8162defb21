-- The triggers of job rows (failed attempts, flows) fire on `last_error`, which the
-- success completion of plain jobs does not name.
--
-- SQLite codes a trigger `AFTER UPDATE OF c` into every statement whose SET names
-- `c`, and every row the statement changes enters the trigger's sub-program to
-- evaluate its WHEN: about 11,000 instructions a job for each trigger in claims and
-- completions of 8 (bench/ablation/sqlite_features.py). On `finished_at` (the
-- `attempt_trigger_on_finish` migration) claims ran neither trigger, but the
-- statement that records a busy worker's successes, the one statement of the hot
-- path besides the claim, still ran both for every job, for nothing: a success
-- records no failed attempt, and a job outside a flow has no dependents.
--
-- Now the success statement of plain jobs (`sql::COMPLETE_SUCCESSES`, which takes
-- jobs outside flows only) does not name `last_error`, and every other statement
-- that ends an attempt, finishes a job or takes a finished one back does (to keep
-- it: `last_error = last_error` where it has nothing to say). Same WHENs, same
-- bodies; `kiribi_flow_step_changed`'s own statements name it too, and recursive
-- triggers stay off, so they fire nothing.
DROP TRIGGER kiribi_attempt_fails;
CREATE TRIGGER kiribi_attempt_fails
AFTER UPDATE OF last_error ON kiribi_jobs
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

DROP TRIGGER kiribi_flow_step_changed;
CREATE TRIGGER kiribi_flow_step_changed
AFTER UPDATE OF last_error ON kiribi_jobs
WHEN NEW.flow_id IS NOT NULL AND NEW.status <> OLD.status
BEGIN
    UPDATE kiribi_jobs
    SET deps_left = deps_left - 1,
        status = CASE WHEN status = 'blocked' AND deps_left = 1 THEN 'pending' ELSE status END,
        run_at = CASE WHEN status = 'blocked' AND deps_left = 1
                      THEN max(run_at, CAST(unixepoch('subsec') * 1000 AS INTEGER))
                      ELSE run_at END
    WHERE NEW.status = 'succeeded' AND OLD.status <> 'succeeded'
      AND id IN (SELECT job_id FROM kiribi_job_deps WHERE depends_on = NEW.id);

    UPDATE kiribi_jobs
    SET status = 'cancelled',
        finished_at = CAST(unixepoch('subsec') * 1000 AS INTEGER),
        cancelled_by = NEW.id,
        last_error = 'dependency `' || NEW.flow_step || '` '
                     || CASE NEW.status WHEN 'failed' THEN 'failed' ELSE 'was cancelled' END
    WHERE NEW.status IN ('failed', 'cancelled') AND OLD.status NOT IN ('failed', 'cancelled')
      AND status = 'blocked'
      AND id IN (
          WITH RECURSIVE dependents (id) AS (
              SELECT job_id FROM kiribi_job_deps WHERE depends_on = NEW.id
              UNION
              SELECT d.job_id FROM kiribi_job_deps AS d JOIN dependents ON d.depends_on = dependents.id
          )
          SELECT id FROM dependents);

    UPDATE kiribi_jobs
    SET status = 'blocked', finished_at = NULL, last_error = NULL, cancelled_by = NULL
    WHERE OLD.status IN ('failed', 'cancelled') AND NEW.status IN ('pending', 'retrying', 'blocked')
      AND flow_id = NEW.flow_id AND cancelled_by = NEW.id AND status = 'cancelled';
END;

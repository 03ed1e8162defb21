-- Flows: jobs that wait for other jobs.
--
-- A flow is a row of `kiribi_flows`; its steps are jobs with `flow_id` and
-- `flow_step` (the step's name) set, and each dependency is a row of
-- `kiribi_job_deps` (the job, the job it waits for). A step counts its
-- dependencies that have not succeeded in `deps_left`: it is `blocked` while the
-- count is above 0, and the trigger below makes it `pending` when the count
-- reaches 0, inside the statement that records the dependency's success, so no
-- crash can come between the two. A step that fails or is cancelled cancels the
-- blocked steps that wait for it, transitively, in the same statement, and
-- records itself in their `cancelled_by`, so that retrying it brings them back.
--
-- Jobs outside flows keep NULL in the new columns (SQLite adds columns without a
-- default without rewriting the table), are in no new index (`kiribi_jobs_by_flow`
-- holds flow steps only, and no statement changes `flow_id`), and cost the trigger
-- one `WHEN` that is false. Claims never see a `blocked` job: the ready indexes
-- hold pending and retrying jobs only.
CREATE TABLE kiribi_flows (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
);

ALTER TABLE kiribi_jobs ADD COLUMN flow_id INTEGER;
ALTER TABLE kiribi_jobs ADD COLUMN flow_step TEXT;
ALTER TABLE kiribi_jobs ADD COLUMN deps_left INTEGER;
ALTER TABLE kiribi_jobs ADD COLUMN cancelled_by INTEGER;

-- Building it reads the table once and writes nothing: no job before this
-- migration is in a flow.
CREATE INDEX kiribi_jobs_by_flow ON kiribi_jobs (flow_id, id) WHERE flow_id IS NOT NULL;

CREATE TABLE kiribi_job_deps (
    job_id     INTEGER NOT NULL,
    depends_on INTEGER NOT NULL,
    PRIMARY KEY (job_id, depends_on)
) WITHOUT ROWID;
-- What a finishing step looks up: the steps that wait for it.
CREATE INDEX kiribi_job_deps_by_dependency ON kiribi_job_deps (depends_on, job_id);

-- A step's status changed. The trigger is on `finished_at`, not `status`: every
-- statement that finishes a job or takes a finished one back sets `finished_at`
-- (to NULL in a retry), and claims, which only set `status`, then run no trigger
-- at all; SQLite runs a trigger of a column the statement sets for every row, and
-- its WHEN inside, which costs a claim of 8 plain jobs about 11,000 instructions a
-- job (bench/ablation/sqlite_features.py). SQLite runs a trigger's statements with the new row's
-- values at hand and does not fire a trigger from its own statements (recursive
-- triggers are off by default), so the transitive cancel walks the dependencies
-- with a recursive query instead; with recursive triggers on, the nested firings
-- find nothing left to change.
CREATE TRIGGER kiribi_flow_step_changed
AFTER UPDATE OF finished_at ON kiribi_jobs
WHEN NEW.flow_id IS NOT NULL AND NEW.status <> OLD.status
BEGIN
    -- Succeeded: one dependency fewer for each dependent; a blocked one with none
    -- left is ready now (or at its own later `run_at`).
    UPDATE kiribi_jobs
    SET deps_left = deps_left - 1,
        status = CASE WHEN status = 'blocked' AND deps_left = 1 THEN 'pending' ELSE status END,
        run_at = CASE WHEN status = 'blocked' AND deps_left = 1
                      THEN max(run_at, CAST(unixepoch('subsec') * 1000 AS INTEGER))
                      ELSE run_at END
    WHERE NEW.status = 'succeeded' AND OLD.status <> 'succeeded'
      AND id IN (SELECT job_id FROM kiribi_job_deps WHERE depends_on = NEW.id);

    -- Failed or cancelled: every blocked step that waits for it, transitively, is
    -- cancelled, naming it.
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

    -- Retried: the steps its failure or cancel cancelled wait again.
    UPDATE kiribi_jobs
    SET status = 'blocked', finished_at = NULL, last_error = NULL, cancelled_by = NULL
    WHERE OLD.status IN ('failed', 'cancelled') AND NEW.status IN ('pending', 'retrying', 'blocked')
      AND flow_id = NEW.flow_id AND cancelled_by = NEW.id AND status = 'cancelled';
END;

-- A step was deleted: the blocked steps that wait for it, transitively, can never
-- run and are cancelled (unless it had succeeded); its dependents no longer wait
-- for it, its dependency rows go, and so does its flow once it has no steps left.
CREATE TRIGGER kiribi_flow_step_deleted
AFTER DELETE ON kiribi_jobs
WHEN OLD.flow_id IS NOT NULL
BEGIN
    UPDATE kiribi_jobs
    SET status = 'cancelled',
        finished_at = CAST(unixepoch('subsec') * 1000 AS INTEGER),
        cancelled_by = OLD.id,
        last_error = 'dependency `' || OLD.flow_step || '` was deleted'
    WHERE OLD.status <> 'succeeded' AND status = 'blocked'
      AND id IN (
          WITH RECURSIVE dependents (id) AS (
              SELECT job_id FROM kiribi_job_deps WHERE depends_on = OLD.id
              UNION
              SELECT d.job_id FROM kiribi_job_deps AS d JOIN dependents ON d.depends_on = dependents.id
          )
          SELECT id FROM dependents);
    UPDATE kiribi_jobs SET deps_left = deps_left - 1
    WHERE OLD.status <> 'succeeded'
      AND id IN (SELECT job_id FROM kiribi_job_deps WHERE depends_on = OLD.id);
    DELETE FROM kiribi_job_deps WHERE depends_on = OLD.id;
    DELETE FROM kiribi_job_deps WHERE job_id = OLD.id;
    DELETE FROM kiribi_flows
    WHERE id = OLD.flow_id
      AND NOT EXISTS (SELECT 1 FROM kiribi_jobs WHERE flow_id = OLD.flow_id);
END;

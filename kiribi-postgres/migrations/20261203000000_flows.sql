-- Flows: jobs that wait for other jobs.
--
-- A flow is a row of `kiribi_flows`; its steps are jobs with `flow_id` and
-- `flow_step` (the step's name) set, and each dependency is a row of
-- `kiribi_job_deps` (the job, the job it waits for). A step counts its
-- dependencies that have not succeeded in `deps_left`: it is `blocked` while the
-- count is above 0, and the trigger below makes it `pending` when the count
-- reaches 0, inside the statement that records the dependency's success, so no
-- crash can come between the two. The count is a column of the dependent's row,
-- so two dependencies that succeed at once in two transactions take turns on that
-- row, and the second sees the first's count (a check of the other dependencies'
-- statuses instead would see neither commit and leave the step blocked). A step
-- that fails or is cancelled cancels the blocked steps that wait for it,
-- transitively, in the same statement, and records itself in their
-- `cancelled_by`, so that retrying it brings them back.
--
-- Jobs outside flows keep NULL in the new columns (added without rewriting the
-- table), get no entry in the new index (`kiribi_jobs_by_flow` holds flow steps
-- only), and cost the row triggers one `WHEN` that is false: the function is not
-- called and no event is queued.
CREATE TABLE kiribi_flows (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       TEXT        NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

ALTER TABLE kiribi_jobs ADD COLUMN flow_id BIGINT;
ALTER TABLE kiribi_jobs ADD COLUMN flow_step TEXT;
ALTER TABLE kiribi_jobs ADD COLUMN deps_left INT;
ALTER TABLE kiribi_jobs ADD COLUMN cancelled_by BIGINT;

-- Building it reads the table once and writes nothing: no job before this
-- migration is in a flow.
CREATE INDEX kiribi_jobs_by_flow ON kiribi_jobs (flow_id, id) WHERE flow_id IS NOT NULL;

CREATE TABLE kiribi_job_deps (
    job_id     BIGINT NOT NULL,
    depends_on BIGINT NOT NULL,
    PRIMARY KEY (job_id, depends_on)
);
-- What a finishing step looks up: the steps that wait for it.
CREATE INDEX kiribi_job_deps_by_dependency ON kiribi_job_deps (depends_on, job_id);

-- A step's status changed. The dependents it unblocks are locked in id order
-- first, so that completions sharing dependents wait for each other in one order.
-- Its own updates fire it again for the dependents whose status they change; those
-- firings find nothing to do (a readied step is `pending`; the transitive cancel
-- has already cancelled every step further down).
CREATE FUNCTION kiribi_flow_step_changed() RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
DECLARE
    readied BIGINT;
BEGIN
    IF NEW.status = 'succeeded' THEN
        PERFORM 1 FROM kiribi_jobs
        WHERE id IN (SELECT job_id FROM kiribi_job_deps WHERE depends_on = NEW.id)
        ORDER BY id
        FOR UPDATE;
        WITH counted AS (
            UPDATE kiribi_jobs AS j
            SET deps_left = j.deps_left - 1,
                status = CASE WHEN j.status = 'blocked' AND j.deps_left = 1
                              THEN 'pending' ELSE j.status END,
                run_at = CASE WHEN j.status = 'blocked' AND j.deps_left = 1
                              THEN GREATEST(j.run_at, now()) ELSE j.run_at END
            FROM kiribi_job_deps AS d
            WHERE d.depends_on = NEW.id AND j.id = d.job_id
            RETURNING j.status
        )
        SELECT count(*) INTO readied FROM counted WHERE status = 'pending';
        IF readied > 0 THEN
            -- Ready jobs are news to idle workers, as an insert is.
            PERFORM pg_notify('kiribi_jobs.' || TG_TABLE_SCHEMA, '');
        END IF;
    ELSIF NEW.status IN ('failed', 'cancelled') AND OLD.status NOT IN ('failed', 'cancelled') THEN
        UPDATE kiribi_jobs
        SET status = 'cancelled', finished_at = now(), cancelled_by = NEW.id,
            last_error = 'dependency `' || NEW.flow_step || '` '
                         || CASE NEW.status WHEN 'failed' THEN 'failed' ELSE 'was cancelled' END
        WHERE status = 'blocked'
          AND id IN (
              WITH RECURSIVE dependents (id) AS (
                  SELECT job_id FROM kiribi_job_deps WHERE depends_on = NEW.id
                  UNION
                  SELECT d.job_id FROM kiribi_job_deps AS d
                  JOIN dependents ON d.depends_on = dependents.id
              )
              SELECT id FROM dependents);
    ELSIF OLD.status IN ('failed', 'cancelled')
          AND NEW.status IN ('pending', 'retrying', 'blocked') THEN
        UPDATE kiribi_jobs
        SET status = 'blocked', finished_at = NULL, last_error = NULL, cancelled_by = NULL
        WHERE flow_id = NEW.flow_id AND cancelled_by = NEW.id AND status = 'cancelled';
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER kiribi_flow_step_changed
    AFTER UPDATE OF status ON kiribi_jobs
    FOR EACH ROW
    WHEN (NEW.flow_id IS NOT NULL AND NEW.status IS DISTINCT FROM OLD.status)
    EXECUTE FUNCTION kiribi_flow_step_changed();

-- A step was deleted: the blocked steps that wait for it, transitively, can never
-- run and are cancelled (unless it had succeeded); its dependents no longer wait
-- for it, its dependency rows go, and so does its flow once it has no steps left.
CREATE FUNCTION kiribi_flow_step_deleted() RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
BEGIN
    IF OLD.status <> 'succeeded' THEN
        UPDATE kiribi_jobs
        SET status = 'cancelled', finished_at = now(), cancelled_by = OLD.id,
            last_error = 'dependency `' || OLD.flow_step || '` was deleted'
        WHERE status = 'blocked'
          AND id IN (
              WITH RECURSIVE dependents (id) AS (
                  SELECT job_id FROM kiribi_job_deps WHERE depends_on = OLD.id
                  UNION
                  SELECT d.job_id FROM kiribi_job_deps AS d
                  JOIN dependents ON d.depends_on = dependents.id
              )
              SELECT id FROM dependents);
        UPDATE kiribi_jobs SET deps_left = deps_left - 1
        WHERE id IN (SELECT job_id FROM kiribi_job_deps WHERE depends_on = OLD.id);
    END IF;
    DELETE FROM kiribi_job_deps WHERE depends_on = OLD.id;
    DELETE FROM kiribi_job_deps WHERE job_id = OLD.id;
    DELETE FROM kiribi_flows
    WHERE id = OLD.flow_id
      AND NOT EXISTS (SELECT 1 FROM kiribi_jobs WHERE flow_id = OLD.flow_id);
    RETURN NULL;
END
$$;

CREATE TRIGGER kiribi_flow_step_deleted
    AFTER DELETE ON kiribi_jobs
    FOR EACH ROW
    WHEN (OLD.flow_id IS NOT NULL)
    EXECUTE FUNCTION kiribi_flow_step_deleted();

-- Cron schedules, and the schedule and tick of each job a schedule enqueued.
--
-- A schedule is a row keyed by name. Its `next_run_at` is the tick that has not
-- been enqueued yet: every process with a running worker reads it and, once it has
-- passed, enqueues the job in one transaction with an `UPDATE` that sets the next
-- tick only where `next_run_at` is still the one it read. Concurrent callers wait
-- for the row lock of the first and then find the tick moved, so a tick is
-- enqueued exactly once however many processes and machines try (the
-- compare-and-set is the database's, not a matter of timing).
CREATE TABLE kiribi_schedules (
    name         TEXT        PRIMARY KEY,
    job_name     TEXT        NOT NULL,
    cron         TEXT        NOT NULL,
    timezone     TEXT        NOT NULL,
    payload      JSONB       NOT NULL,
    queue        TEXT        NOT NULL,
    priority     INT         NOT NULL,
    max_attempts INT         NOT NULL,
    paused       BOOLEAN     NOT NULL DEFAULT false,
    next_run_at  TIMESTAMPTZ NOT NULL,
    last_run_at  TIMESTAMPTZ,
    last_job_id  BIGINT,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL
);

-- Nullable columns without a default: added without rewriting the table, and the
-- jobs of no schedule (every job before this migration) keep NULL.
ALTER TABLE kiribi_jobs ADD COLUMN schedule TEXT;
ALTER TABLE kiribi_jobs ADD COLUMN schedule_tick TIMESTAMPTZ;

-- Cron schedules, and the schedule and tick of each job a schedule enqueued.
--
-- A schedule is a row keyed by name. Its `next_run_at` is the tick that has not
-- been enqueued yet: every process with a running worker reads it and, once it has
-- passed, enqueues the job in one `BEGIN IMMEDIATE` transaction with an `UPDATE`
-- that sets the next tick only where `next_run_at` is still the one it read, so a
-- tick is enqueued exactly once however many processes try (the compare-and-set is
-- the database's, not a matter of timing). Times are Unix epoch milliseconds.
CREATE TABLE kiribi_schedules (
    name         TEXT    PRIMARY KEY,
    job_name     TEXT    NOT NULL,
    cron         TEXT    NOT NULL,
    timezone     TEXT    NOT NULL,
    payload      TEXT    NOT NULL,
    queue        TEXT    NOT NULL,
    priority     INTEGER NOT NULL,
    max_attempts INTEGER NOT NULL,
    paused       INTEGER NOT NULL DEFAULT 0,
    next_run_at  INTEGER NOT NULL,
    last_run_at  INTEGER,
    last_job_id  INTEGER,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);

-- Columns without a default: SQLite adds them without rewriting the table, and the
-- jobs of no schedule (every job before this migration) keep NULL.
ALTER TABLE kiribi_jobs ADD COLUMN schedule TEXT;
ALTER TABLE kiribi_jobs ADD COLUMN schedule_tick INTEGER;

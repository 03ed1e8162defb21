-- Limits on a job's group (its name and `limit_key`): how many of its jobs may run
-- at once (`concurrency_limit`) and be claimed per period (`rate_limit` per
-- `rate_period_us`). Claims enforce them: a claim of limited jobs takes each
-- group's advisory lock (skipping groups another claim holds), then counts and
-- claims in a statement that sees every earlier claim of the group.
--
-- Limited jobs leave the ready index for one of their own, by group, so that jobs
-- their limits hold back are never walked over by the claims of other jobs (no
-- head-of-line blocking, and no scan of them either). Columns with constant
-- defaults are added without rewriting the table; the ready index is rebuilt from
-- the waiting jobs.
ALTER TABLE kiribi_jobs ADD COLUMN limit_key TEXT NOT NULL DEFAULT '';
ALTER TABLE kiribi_jobs ADD COLUMN concurrency_limit INT;
ALTER TABLE kiribi_jobs ADD COLUMN rate_limit INT;
ALTER TABLE kiribi_jobs ADD COLUMN rate_period_us BIGINT;

DROP INDEX kiribi_jobs_ready;
CREATE INDEX kiribi_jobs_ready
    ON kiribi_jobs (priority DESC, run_at, id)
    WHERE status IN ('pending', 'retrying') AND concurrency_limit IS NULL AND rate_limit IS NULL;

CREATE INDEX kiribi_jobs_ready_limited
    ON kiribi_jobs (name, limit_key, priority DESC, run_at, id)
    WHERE status IN ('pending', 'retrying')
      AND (concurrency_limit IS NOT NULL OR rate_limit IS NOT NULL);

-- The running jobs of each group with a concurrency limit: what a claim counts.
CREATE INDEX kiribi_jobs_running_limited
    ON kiribi_jobs (name, limit_key)
    WHERE status = 'running' AND concurrency_limit IS NOT NULL;

-- One row per claim of a rate-limited job, until its window ends.
CREATE TABLE kiribi_rate_starts (
    name       TEXT        NOT NULL,
    limit_key  TEXT        NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX kiribi_rate_starts_by_group ON kiribi_rate_starts (name, limit_key, expires_at);
CREATE INDEX kiribi_rate_starts_by_expiry ON kiribi_rate_starts (expires_at);

-- The pick function of the `paused_queues` migration, for jobs without limits.
CREATE OR REPLACE FUNCTION kiribi_pick_jobs(names TEXT[], queues TEXT[], n BIGINT)
RETURNS SETOF BIGINT
LANGUAGE plpgsql
ROWS 10
SET enable_sort = off
SET search_path FROM CURRENT
AS $$
BEGIN
    RETURN QUERY
        SELECT id FROM kiribi_jobs
        WHERE status IN ('pending', 'retrying') AND concurrency_limit IS NULL
          AND rate_limit IS NULL AND run_at <= now()
          AND name = ANY(names)
          AND (queues IS NULL OR queue = ANY(queues))
          AND queue NOT IN (SELECT name FROM kiribi_queues)
        ORDER BY priority DESC, run_at, id
        LIMIT n
        FOR UPDATE SKIP LOCKED;
END
$$;

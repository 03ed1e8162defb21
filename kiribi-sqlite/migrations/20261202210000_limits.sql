-- Limits on a job's group (its name and `limit_key`): how many of its jobs may run
-- at once (`concurrency_limit`) and be claimed per period (`rate_limit` per
-- `rate_period_ms`). Claims enforce them, in the claim's write transaction.
--
-- Limited jobs leave the ready index for one of their own, by group, so that jobs
-- that their limits hold back are never walked over by the claims of other jobs
-- (no head-of-line blocking, and no scan of them either). Rebuilding the ready
-- index reads the waiting jobs once.
ALTER TABLE kiribi_jobs ADD COLUMN limit_key TEXT NOT NULL DEFAULT '';
ALTER TABLE kiribi_jobs ADD COLUMN concurrency_limit INTEGER;
ALTER TABLE kiribi_jobs ADD COLUMN rate_limit INTEGER;
ALTER TABLE kiribi_jobs ADD COLUMN rate_period_ms INTEGER;

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

-- One row per claim of a rate-limited job, until its window ends; a claim counts
-- the rows of the group not yet expired, and removes the expired ones.
CREATE TABLE kiribi_rate_starts (
    name       TEXT    NOT NULL,
    limit_key  TEXT    NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX kiribi_rate_starts_by_group ON kiribi_rate_starts (name, limit_key, expires_at);
CREATE INDEX kiribi_rate_starts_by_expiry ON kiribi_rate_starts (expires_at);

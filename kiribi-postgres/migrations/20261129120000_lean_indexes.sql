-- Fewer indexes on the job table. An update that changes an indexed column (every
-- claim and completion changes `status`) writes a new entry into every index, so
-- each index costs on every step of a job's life.
-- - Lease renewal walks `kiribi_jobs_lease_expiry`, which holds only running jobs
--   (a handful per worker), and filters them by owner.
-- - Listing by name or queue walks the table newest first and filters; listing by
--   status still has its index.
DROP INDEX kiribi_jobs_lease_owner;
DROP INDEX kiribi_jobs_by_name;
DROP INDEX kiribi_jobs_by_queue;

-- Locks and returns the ids of up to `n` ready jobs, in claim order, for the claim
-- statement. It is a function so that its plan can be pinned: a queue table changes
-- faster than its statistics, and on stale ones the planner would rather sort every
-- ready job (a bitmap scan, then a sort) than walk `kiribi_jobs_ready` in order and
-- stop after `n`; with 1M ready jobs that is the difference between 1M rows read per
-- claim and `n`. With sorting disabled the ordered walk is the only cheap plan.
-- `search_path` is the one this migration runs with: kiribi's schema. `ROWS 10`
-- tells the claim statement's planner to expect a batch, not the default 1,000 rows
-- of a set-returning function, which made it hash-join against a scan of the whole
-- table.
CREATE FUNCTION kiribi_pick_jobs(names TEXT[], queues TEXT[], n BIGINT)
RETURNS SETOF BIGINT
LANGUAGE plpgsql
ROWS 10
SET enable_sort = off
SET search_path FROM CURRENT
AS $$
BEGIN
    RETURN QUERY
        SELECT id FROM kiribi_jobs
        WHERE status IN ('pending', 'retrying') AND run_at <= now()
          AND name = ANY(names)
          AND (queues IS NULL OR queue = ANY(queues))
        ORDER BY priority DESC, run_at, id
        LIMIT n
        FOR UPDATE SKIP LOCKED;
END
$$;

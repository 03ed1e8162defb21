-- A job's life costs fewer writes.
--
-- Fewer indexes. An update that changes an indexed column (every claim and completion
-- changes `status`) writes a new entry into every index whose predicate the new row
-- version matches, so each index costs on every step of a job's life.
-- - Listing by status uses `kiribi_jobs_by_status`, now without succeeded jobs: a
--   completion that succeeds adds nothing to it. Succeeded jobs are most of the
--   table, so listing them newest first walks the table by id and finds them at once;
--   so does listing by name or queue.
-- - The reaper and lease renewal find running jobs (a handful per worker) through
--   the same index.
-- - Its ids ascend: a new job's entry goes at the right edge of its status, where
--   B-tree inserts are cheapest (PostgreSQL takes a fast path there; descending ids
--   split pages at the left edge). Listing newest first walks it backwards.
DROP INDEX kiribi_jobs_lease_owner;
DROP INDEX kiribi_jobs_lease_expiry;
DROP INDEX kiribi_jobs_by_name;
DROP INDEX kiribi_jobs_by_queue;
DROP INDEX kiribi_jobs_by_status;
CREATE INDEX kiribi_jobs_by_status ON kiribi_jobs (status, id)
    WHERE status <> 'succeeded';

-- Attempt records only for attempts that ended in an error (or were taken back).
-- The job row describes its latest attempt while it runs and once it succeeds
-- (`attempts`, `started_at`, `finished_at`, and now `attempted_by`, the worker), and
-- `attempts()` reads it from there, so the common path, one attempt that succeeds,
-- writes no attempt record at all.
ALTER TABLE kiribi_jobs ADD COLUMN attempted_by TEXT;

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
--
-- It also makes the claim's transaction commit without waiting for its WAL flush
-- (`synchronous_commit` off, for that transaction only). A claim that a server crash
-- loses leaves the job ready again, as if its lease had expired: the job runs again
-- (at-least-once), and the worker's later completion no longer matches its lease
-- and is dropped. Completions, enqueues and everything else stay synchronous.
CREATE FUNCTION kiribi_pick_jobs(names TEXT[], queues TEXT[], n BIGINT)
RETURNS SETOF BIGINT
LANGUAGE plpgsql
ROWS 10
SET enable_sort = off
SET search_path FROM CURRENT
AS $$
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
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

-- An attempt cut short by a lost worker is an interruption, not a failure; and a
-- claim is durable.
--
-- When a worker dies (or loses its database connection for longer than a lease),
-- its jobs' leases expire and the reaper takes them back. The worker's failure
-- policy decides what that costs: the attempt is counted here instead of against
-- `max_attempts` (a job claimed ahead that never started, or one whose worker was
-- killed by something else, keeps its attempts), up to a cap past which the job
-- fails, so that a job that kills its worker every time still ends. A column with
-- a constant default is added without rewriting the table.
ALTER TABLE kiribi_jobs ADD COLUMN interruptions INT NOT NULL DEFAULT 0;

-- Claims commit synchronously again. With `synchronous_commit` off, a claim that
-- a server crash lost handed the same job (and the same attempt number) to a
-- second worker while the first one, which had received the claim, ran it too:
-- two workers ran one job at once. The pick function is otherwise unchanged (see
-- the `lean_indexes` migration for why it exists).
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
        WHERE status IN ('pending', 'retrying') AND run_at <= now()
          AND name = ANY(names)
          AND (queues IS NULL OR queue = ANY(queues))
        ORDER BY priority DESC, run_at, id
        LIMIT n
        FOR UPDATE SKIP LOCKED;
END
$$;

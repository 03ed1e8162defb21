-- Pausing a queue: a row here means no worker claims the queue's jobs until the
-- row is deleted (`resume_queue`). Claims read it in the same statement, so a pause
-- holds from the next claim on, in every process. The jobs stay pending.
CREATE TABLE kiribi_queues (
    name      TEXT        PRIMARY KEY,
    paused_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The pick function of the `interruptions` migration, skipping paused queues.
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
          AND queue NOT IN (SELECT name FROM kiribi_queues)
        ORDER BY priority DESC, run_at, id
        LIMIT n
        FOR UPDATE SKIP LOCKED;
END
$$;

-- Pausing a queue: a row here means no worker claims the queue's jobs until the
-- row is deleted (`resume_queue`). Claims read it in the same statement, so a pause
-- holds from the next claim on, in every process. The jobs stay pending.
CREATE TABLE kiribi_queues (
    name      TEXT    PRIMARY KEY,
    paused_at INTEGER NOT NULL
) WITHOUT ROWID;

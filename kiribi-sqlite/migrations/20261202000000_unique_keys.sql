-- Unique jobs: a job may carry a key that no other job of its name holds.
--
-- A key is held while its job is unfinished (pending, running, retrying, blocked),
-- or in every state when `unique_in_any_state` is set (a key for a period, which
-- names its window). The partial unique index enforces it for every writer at
-- once: concurrent enqueues, duplicates within one batch, transactions. Jobs
-- without a key are not in the index and cost it nothing.
--
-- Columns with constant defaults: SQLite adds them without rewriting the table.
ALTER TABLE kiribi_jobs ADD COLUMN unique_key TEXT;
ALTER TABLE kiribi_jobs ADD COLUMN unique_in_any_state INTEGER NOT NULL DEFAULT 0;

CREATE UNIQUE INDEX kiribi_jobs_unique ON kiribi_jobs (name, unique_key)
    WHERE unique_key IS NOT NULL
      AND (unique_in_any_state = 1 OR status IN ('pending', 'running', 'retrying', 'blocked'));

-- kiribi's job table and the history of every attempt.
-- Times are Unix epoch milliseconds (UTC); payload and result are JSON text.
-- `status` has no CHECK constraint: later kiribi versions add states, and changing a
-- CHECK in SQLite means rebuilding the table.

CREATE TABLE kiribi_jobs (
    -- AUTOINCREMENT: ids are never reused, even after the newest job is deleted.
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    name             TEXT    NOT NULL,
    queue            TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    priority         INTEGER NOT NULL,
    attempts         INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL,
    payload          TEXT    NOT NULL,
    result           TEXT,
    last_error       TEXT,
    created_at       INTEGER NOT NULL,
    run_at           INTEGER NOT NULL,
    started_at       INTEGER,
    finished_at      INTEGER,
    lease_owner      TEXT,
    lease_expires_at INTEGER
);

-- Claims walk this index in claim order and stop after `limit` matches.
CREATE INDEX kiribi_jobs_ready
    ON kiribi_jobs (priority DESC, run_at, id)
    WHERE status IN ('pending', 'retrying');

-- The reaper looks only at running jobs whose lease ran out.
CREATE INDEX kiribi_jobs_lease_expiry
    ON kiribi_jobs (lease_expires_at)
    WHERE status = 'running';

-- Lease renewal finds a worker's running jobs.
CREATE INDEX kiribi_jobs_lease_owner
    ON kiribi_jobs (lease_owner)
    WHERE status = 'running';

-- Listing, newest first, by each filter.
CREATE INDEX kiribi_jobs_by_status ON kiribi_jobs (status, id DESC);
CREATE INDEX kiribi_jobs_by_name   ON kiribi_jobs (name, id DESC);
CREATE INDEX kiribi_jobs_by_queue  ON kiribi_jobs (queue, id DESC);

CREATE TABLE kiribi_attempts (
    job_id      INTEGER NOT NULL REFERENCES kiribi_jobs (id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,
    worker      TEXT,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    error       TEXT,
    PRIMARY KEY (job_id, attempt)
);

-- kiribi's job table and the history of every attempt.
-- Runs with `search_path` set to kiribi's schema first, so every name below is
-- created there. Times are `timestamptz` on the database's clock; payload and result
-- are `jsonb`. `status` has no CHECK constraint: later kiribi versions add states.

CREATE TABLE kiribi_jobs (
    -- An identity is never reused, even after the newest job is deleted.
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name             TEXT        NOT NULL,
    queue            TEXT        NOT NULL,
    status           TEXT        NOT NULL,
    priority         INT         NOT NULL,
    attempts         INT         NOT NULL DEFAULT 0,
    max_attempts     INT         NOT NULL,
    payload          JSONB       NOT NULL,
    result           JSONB,
    last_error       TEXT,
    created_at       TIMESTAMPTZ NOT NULL,
    run_at           TIMESTAMPTZ NOT NULL,
    started_at       TIMESTAMPTZ,
    finished_at      TIMESTAMPTZ,
    lease_owner      TEXT,
    lease_expires_at TIMESTAMPTZ
)
-- Every job row is updated several times (claim, lease renewals, completion): free
-- space on each page lets the new row versions stay on the same page.
WITH (fillfactor = 80);

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
    job_id      BIGINT      NOT NULL REFERENCES kiribi_jobs (id) ON DELETE CASCADE,
    attempt     INT         NOT NULL,
    worker      TEXT,
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    error       TEXT,
    PRIMARY KEY (job_id, attempt)
);

-- Wakes listening workers when jobs are inserted. Once per statement, so a batch
-- announces itself once; `NOTIFY` is sent on commit, so a job inserted in a
-- transaction that rolls back is never announced. The channel is
-- `kiribi_jobs.<schema>`, one per kiribi schema (`PgStorage` derives the same name).
CREATE FUNCTION kiribi_notify_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('kiribi_jobs.' || TG_TABLE_SCHEMA, '');
    RETURN NULL;
END
$$;

CREATE TRIGGER kiribi_jobs_notify
    AFTER INSERT ON kiribi_jobs
    FOR EACH STATEMENT
    EXECUTE FUNCTION kiribi_notify_jobs();

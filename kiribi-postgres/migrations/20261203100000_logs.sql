-- Log lines and progress of job attempts (`ctx.log`, `tracing` events under
-- kiribi's layer, `ctx.progress`). Workers write them in batches, numbered per
-- attempt (`seq`), so the primary key is also the order they are read in; a line
-- written twice (a retried batch) is kept once. Lines go with their job
-- (`ON DELETE CASCADE`); updates of a job that leave its id alone queue no check
-- of the key, so claims and completions pay nothing for the table.
CREATE TABLE kiribi_logs (
    job_id  BIGINT      NOT NULL REFERENCES kiribi_jobs (id) ON DELETE CASCADE,
    attempt INT         NOT NULL,
    seq     INT         NOT NULL,
    at      TIMESTAMPTZ NOT NULL,
    level   TEXT        NOT NULL,
    message TEXT        NOT NULL,
    PRIMARY KEY (job_id, attempt, seq)
);

-- The latest progress an attempt reported, 0.0 ..= 1.0. Nullable without a
-- default: PostgreSQL adds the column without rewriting the table.
ALTER TABLE kiribi_jobs ADD COLUMN progress REAL;

-- Log lines and progress of job attempts (`ctx.log`, `tracing` events under
-- kiribi's layer, `ctx.progress`). Workers write them in batches, numbered per
-- attempt (`seq`), so the primary key is also the order they are read in; a line
-- written twice (a retried batch) is kept once. Lines go with their job
-- (`ON DELETE CASCADE`); SQLite checks the key only when a job is deleted, so
-- claims and completions pay nothing for the table.
CREATE TABLE kiribi_logs (
    job_id  INTEGER NOT NULL REFERENCES kiribi_jobs (id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    seq     INTEGER NOT NULL,
    at      INTEGER NOT NULL,
    level   TEXT    NOT NULL,
    message TEXT    NOT NULL,
    PRIMARY KEY (job_id, attempt, seq)
) WITHOUT ROWID;

-- The latest progress an attempt reported, 0.0 ..= 1.0. Without a default: SQLite
-- adds the column without rewriting the table.
ALTER TABLE kiribi_jobs ADD COLUMN progress REAL;

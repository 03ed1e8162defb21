-- An enqueue writes two B-tree pages instead of four.
--
-- In WAL mode a commit appends every page it changed to the log, so the cost of a
-- one-job enqueue follows the number of pages it touches. It touched four: the
-- table, the ready index, the status index, and `sqlite_sequence` (AUTOINCREMENT).
-- Now it touches the table and the ready index.
--
-- - Pending jobs leave `kiribi_jobs_by_status`: they are all in the ready index,
--   which listing reads for pending jobs older than the newest ones (see
--   `src/list.rs`). The ready index keeps its columns: adding `status` to it, which
--   would spare that listing a table read per ready job, cost the drain ~5 %.
-- - Ids are no longer guarded by AUTOINCREMENT, whose `sqlite_sequence` row is
--   rewritten by every insert. `kiribi_id_floor` holds the highest id ever deleted,
--   written only by deletes; an insert gives its jobs ids above both that floor and
--   every id in the table, so ids are still never reused.
--
-- Dropping AUTOINCREMENT means rebuilding the table. With foreign keys on, dropping
-- `kiribi_jobs` while `kiribi_attempts` refers to it would delete every attempt
-- record through `ON DELETE CASCADE`, so both tables are rebuilt: the new attempts
-- table refers to the new jobs table, and renaming the new jobs table rewrites that
-- reference. Triggers go with their tables and are created again. The copy holds
-- the write lock once, for about 5 s per million jobs (measured with Python's
-- sqlite3 on the benchmark machine).

CREATE TABLE kiribi_id_floor (floor INTEGER NOT NULL);
INSERT INTO kiribi_id_floor (floor)
SELECT COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'kiribi_jobs'), 0);

CREATE TABLE kiribi_jobs_rebuilt (
    id               INTEGER PRIMARY KEY,
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
    lease_expires_at INTEGER,
    attempted_by     TEXT
);
INSERT INTO kiribi_jobs_rebuilt (
    id, name, queue, status, priority, attempts, max_attempts, payload, result,
    last_error, created_at, run_at, started_at, finished_at, lease_owner,
    lease_expires_at, attempted_by)
SELECT
    id, name, queue, status, priority, attempts, max_attempts, payload, result,
    last_error, created_at, run_at, started_at, finished_at, lease_owner,
    lease_expires_at, attempted_by
FROM kiribi_jobs;

CREATE TABLE kiribi_attempts_rebuilt (
    job_id      INTEGER NOT NULL REFERENCES kiribi_jobs_rebuilt (id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,
    worker      TEXT,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER,
    error       TEXT,
    PRIMARY KEY (job_id, attempt)
);
INSERT INTO kiribi_attempts_rebuilt (job_id, attempt, worker, started_at, finished_at, error)
SELECT job_id, attempt, worker, started_at, finished_at, error FROM kiribi_attempts;

DROP TABLE kiribi_attempts;
DROP TABLE kiribi_jobs;
ALTER TABLE kiribi_jobs_rebuilt RENAME TO kiribi_jobs;
ALTER TABLE kiribi_attempts_rebuilt RENAME TO kiribi_attempts;

CREATE INDEX kiribi_jobs_ready
    ON kiribi_jobs (priority DESC, run_at, id)
    WHERE status IN ('pending', 'retrying');

CREATE INDEX kiribi_jobs_by_status ON kiribi_jobs (status, id)
    WHERE status NOT IN ('succeeded', 'pending');

CREATE TRIGGER kiribi_attempt_fails
AFTER UPDATE OF status ON kiribi_jobs
WHEN OLD.status = 'running' AND NEW.status IN ('retrying', 'failed')
     AND NEW.attempts = OLD.attempts
BEGIN
    INSERT INTO kiribi_attempts (job_id, attempt, worker, started_at, finished_at, error)
    VALUES (NEW.id, NEW.attempts, NEW.attempted_by, NEW.started_at,
            COALESCE(NEW.finished_at, CAST(unixepoch('subsec') * 1000 AS INTEGER)),
            NEW.last_error)
    ON CONFLICT (job_id, attempt) DO UPDATE
    SET finished_at = excluded.finished_at, error = excluded.error;
END;

CREATE TRIGGER kiribi_jobs_id_floor
AFTER DELETE ON kiribi_jobs
BEGIN
    UPDATE kiribi_id_floor SET floor = OLD.id WHERE floor < OLD.id;
END;

-- Statistics that survive pruning: per-minute rollups of finished jobs.
--
-- `kiribi_rollups` holds one row per (minute a job finished in, name, queue): the
-- counts, and the run and wait times as DDSketch bytes (kiribi_core's
-- `DurationSketch`), which merge across minutes and processes. Every job that
-- finished before `kiribi_rollup_state.rolled_until` is counted in exactly one row,
-- and none after it: a worker folds the jobs past the watermark into the rows and
-- moves the watermark in one transaction (see `src/rollup.rs`). Completions write
-- no row here; they pay one entry in `kiribi_jobs_finished`, which is how the
-- roll-up finds what finished since the watermark, and how retention finds what is
-- old enough to prune, without a scan.
--
-- Building the index reads the table once; no job row is rewritten. The watermark
-- starts at 0: the first roll-ups count the jobs finished before this migration,
-- a few minutes of them per transaction.
CREATE INDEX kiribi_jobs_finished ON kiribi_jobs (status, finished_at) WHERE finished_at IS NOT NULL;

CREATE TABLE kiribi_rollups (
    minute    INTEGER NOT NULL,
    name      TEXT    NOT NULL,
    queue     TEXT    NOT NULL,
    succeeded INTEGER NOT NULL,
    failed    INTEGER NOT NULL,
    cancelled INTEGER NOT NULL,
    retried   INTEGER NOT NULL,
    run_time  BLOB    NOT NULL,
    wait_time BLOB    NOT NULL,
    PRIMARY KEY (minute, name, queue)
);

CREATE TABLE kiribi_rollup_state (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    rolled_until INTEGER NOT NULL
);
INSERT INTO kiribi_rollup_state (id, rolled_until) VALUES (1, 0);

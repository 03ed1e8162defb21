-- Statistics that survive pruning: per-minute rollups of finished jobs.
--
-- `kiribi_rollups` holds one row per (minute a job finished in, name, queue): the
-- counts, and the run and wait times as DDSketch bytes (kiribi_core's
-- `DurationSketch`), which merge across minutes and processes. Every job that
-- finished before `kiribi_rollup_state.rolled_until` is counted in exactly one row,
-- and none after it: a worker folds the jobs past the watermark into the rows and
-- moves the watermark in one transaction, holding the state row (see
-- `src/rollup.rs`). Completions write no row here; they pay one entry in
-- `kiribi_jobs_finished`, which is how the roll-up finds what finished since the
-- watermark, and how retention finds what is old enough to prune, without a scan.
--
-- Building the index reads the table once (and blocks writes to it meanwhile); no
-- job row is rewritten. The watermark starts at the epoch: the first roll-ups count
-- the jobs finished before this migration, a few minutes of them per transaction.
CREATE INDEX kiribi_jobs_finished ON kiribi_jobs (status, finished_at) WHERE finished_at IS NOT NULL;

CREATE TABLE kiribi_rollups (
    minute    TIMESTAMPTZ NOT NULL,
    name      TEXT        NOT NULL,
    queue     TEXT        NOT NULL,
    succeeded BIGINT      NOT NULL,
    failed    BIGINT      NOT NULL,
    cancelled BIGINT      NOT NULL,
    retried   BIGINT      NOT NULL,
    run_time  BYTEA       NOT NULL,
    wait_time BYTEA       NOT NULL,
    PRIMARY KEY (minute, name, queue)
);

CREATE TABLE kiribi_rollup_state (
    id           INT         PRIMARY KEY CHECK (id = 1),
    rolled_until TIMESTAMPTZ NOT NULL
);
INSERT INTO kiribi_rollup_state (id, rolled_until) VALUES (1, 'epoch');

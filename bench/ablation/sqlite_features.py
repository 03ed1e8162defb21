#!/usr/bin/env python3
"""What each control, flow and log feature costs SQLite's claim and completion of
*plain* jobs (no unique key, no limits, no flow), part by part.

Drains N jobs in claims of BATCH through Python's sqlite3 with the claim and
success-completion statements of kiribi, on the schema before issue 11 (`base`,
commit 7a9f25c), on today's schema (`now`), and on today's schema with one part left
out. Times are printed, but the machine is shared and noisy: count instructions
instead, which contention does not change. Run one case under callgrind twice,
with and without the drain, and divide the difference by N:

    LD_LIBRARY_PATH=<dir with libsqlite3.so.0 built from libsqlite3-sys' bundled
      sqlite3.c, so that Python runs the SQLite kiribi ships>
    N=20000 BATCH=8 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
        python3 bench/ablation/sqlite_features.py now             # with the drain
    N=20000 BATCH=8 NODRAIN=1 valgrind ... sqlite_features.py now  # without

Measured again 2026-12-03 with the system's SQLite 3.40.1 (Python's own), after
the triggers moved to `last_error` and the limited indexes test their limits
first: base 96,776; now 105,472; now without the new columns and everything on
them 95,594. What is left is mostly the columns themselves: an UPDATE rebuilds
the whole row, reading every column, NULL or not.

BATCH=8 is what the benchmark's W3 worker (concurrency 8) claims at a time; with
claims that small, what each statement costs (every index it opens, every trigger
it runs, every subquery) outweighs what each row costs. Measured 2026-12-02 with
SQLite 3.51.3, instructions per drained job (BATCH=8): base 130,900; now 157,600;
of the difference, each partial index that names `status` (unique keys, ready and
running limited jobs) 3,000-6,000, the paused-queue check 3,800, the nine new
NULL columns 4,500 (about 470 each at any batch size), and every AFTER UPDATE OF
status trigger, even one whose WHEN is false for the row, about 11,000 (its WHEN
runs inside the trigger's sub-program, which each row enters).

    python3 bench/ablation/sqlite_features.py            # every case, timed
    python3 bench/ablation/sqlite_features.py now        # one case
"""
import json
import os
import sqlite3
import sys
import tempfile
import time

N = int(os.environ.get("N", "100000"))
BATCH = int(os.environ.get("BATCH", "512"))
OWNER = "worker:somehost.example:12345:0123456789abcdef"

BASE_TABLE = """
CREATE TABLE kiribi_jobs (id INTEGER PRIMARY KEY, name TEXT NOT NULL, queue TEXT NOT NULL,
 status TEXT NOT NULL, priority INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
 max_attempts INTEGER NOT NULL, payload TEXT NOT NULL, result TEXT, last_error TEXT,
 created_at INTEGER NOT NULL, run_at INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER,
 lease_owner TEXT, lease_expires_at INTEGER, attempted_by TEXT,
 interruptions INTEGER NOT NULL DEFAULT 0 {columns});
CREATE TABLE kiribi_attempts (job_id INTEGER NOT NULL, attempt INTEGER NOT NULL, worker TEXT,
 started_at INTEGER, finished_at INTEGER, error TEXT, PRIMARY KEY (job_id, attempt));
CREATE INDEX kiribi_jobs_ready ON kiribi_jobs (priority DESC, run_at, id)
 WHERE status IN ('pending', 'retrying') {ready};
CREATE INDEX kiribi_jobs_by_status ON kiribi_jobs (status, id)
 WHERE status NOT IN ('succeeded', 'pending');
CREATE TRIGGER kiribi_attempt_fails AFTER UPDATE OF {trigger_column} ON kiribi_jobs
WHEN OLD.status = 'running' AND NEW.status IN ('retrying', 'failed') AND NEW.attempts = OLD.attempts
BEGIN INSERT INTO kiribi_attempts (job_id, attempt, worker, started_at, finished_at, error)
 VALUES (NEW.id, NEW.attempts, NEW.attempted_by, NEW.started_at, NEW.finished_at, NEW.last_error)
 ON CONFLICT (job_id, attempt) DO UPDATE SET finished_at = excluded.finished_at,
 error = excluded.error; END;
CREATE TABLE kiribi_queues (name TEXT PRIMARY KEY, paused_at INTEGER NOT NULL) WITHOUT ROWID;
"""
NEW_COLUMNS = """, unique_key TEXT, unique_in_any_state INTEGER NOT NULL DEFAULT 0,
 schedule TEXT, schedule_tick INTEGER, limit_key TEXT NOT NULL DEFAULT '',
 concurrency_limit INTEGER, rate_limit INTEGER, rate_period_ms INTEGER,
 cancel_requested INTEGER NOT NULL DEFAULT 0"""
FLOW_LOG_COLUMNS = """, flow_id INTEGER, flow_step TEXT, deps_left INTEGER,
 cancelled_by INTEGER, progress REAL"""
READY_WITHOUT_LIMITS = "AND concurrency_limit IS NULL AND rate_limit IS NULL"
PARTS = {
    "unique index": """CREATE UNIQUE INDEX kiribi_jobs_unique ON kiribi_jobs (name, unique_key)
        WHERE unique_key IS NOT NULL
          AND (unique_in_any_state = 1 OR status IN ('pending', 'running', 'retrying', 'blocked'));""",
    "ready limited index": """CREATE INDEX kiribi_jobs_ready_limited
        ON kiribi_jobs (name, limit_key, priority DESC, run_at, id)
        WHERE (concurrency_limit IS NOT NULL OR rate_limit IS NOT NULL)
          AND status IN ('pending', 'retrying');""",
    "running limited index": """CREATE INDEX kiribi_jobs_running_limited
        ON kiribi_jobs (name, limit_key) WHERE concurrency_limit IS NOT NULL AND status = 'running';""",
    "cancel trigger": """CREATE TABLE kiribi_cancel_signal (id INTEGER PRIMARY KEY, requests INTEGER);
        INSERT INTO kiribi_cancel_signal VALUES (1, 0);
        CREATE TRIGGER kiribi_cancel_requested AFTER UPDATE OF cancel_requested ON kiribi_jobs
        WHEN NEW.cancel_requested = 1 AND OLD.cancel_requested = 0
        BEGIN UPDATE kiribi_cancel_signal SET requests = requests + 1 WHERE id = 1; END;""",
    "flow index": """CREATE INDEX kiribi_jobs_by_flow ON kiribi_jobs (flow_id, id)
        WHERE flow_id IS NOT NULL;""",
    # The flow trigger's body does not matter to plain jobs: its WHEN is false.
    "flow trigger": """CREATE TABLE kiribi_job_deps (job_id INTEGER, depends_on INTEGER);
        CREATE TRIGGER kiribi_flow_step_changed AFTER UPDATE OF last_error ON kiribi_jobs
        WHEN NEW.flow_id IS NOT NULL AND NEW.status <> OLD.status
        BEGIN UPDATE kiribi_jobs SET deps_left = deps_left - 1
          WHERE id IN (SELECT job_id FROM kiribi_job_deps WHERE depends_on = NEW.id); END;""",
}
CLAIM = """UPDATE kiribi_jobs SET status = 'running', attempts = attempts + 1, started_at = ?1,
 lease_owner = ?2, lease_expires_at = ?3, attempted_by = ?2
 WHERE id IN (SELECT id FROM kiribi_jobs INDEXED BY kiribi_jobs_ready
   WHERE status IN ('pending', 'retrying') {ready} AND run_at <= ?1
   AND name IN (SELECT value FROM json_each(?4))
   AND (?5 IS NULL OR queue IN (SELECT value FROM json_each(?5))) {paused}
   ORDER BY priority DESC, run_at, id LIMIT ?6)
 RETURNING id, name, queue, payload, attempts, max_attempts, interruptions, priority, run_at"""
PAUSED = "AND queue NOT IN (SELECT name FROM kiribi_queues)"
COMPLETE_SUCCESSES = """UPDATE kiribi_jobs SET status = 'succeeded', result = c.result,
 finished_at = ?2, lease_owner = NULL, lease_expires_at = NULL
 FROM (SELECT value ->> 0 AS job_id, value ->> 1 AS attempt, value ->> 2 AS result
   FROM json_each(?1)) AS c
 WHERE kiribi_jobs.id = c.job_id AND kiribi_jobs.status = 'running'
   AND kiribi_jobs.attempts = c.attempt AND kiribi_jobs.lease_owner = ?3
 RETURNING kiribi_jobs.id"""


def schema(without=(), base=False):
    if base:
        return BASE_TABLE.format(columns="", ready="", trigger_column="status"), "", ""
    columns = "" if "columns" in without else NEW_COLUMNS + FLOW_LOG_COLUMNS
    ready = "" if "columns" in without else READY_WITHOUT_LIMITS
    # Today's triggers fire on `last_error`, which the success statement of plain
    # jobs does not name (the `triggers_on_last_error` migration).
    text = BASE_TABLE.format(columns=columns, ready=ready, trigger_column="last_error")
    for part, sql in PARTS.items():
        if part not in without and "columns" not in without:
            text += sql
    paused = "" if "paused check" in without else PAUSED
    return text, ready, paused


def drain(text, ready, paused):
    path = os.path.join(tempfile.mkdtemp(), "jobs.db")
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.executescript(text)
    db.execute(
        """WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < ?1)
        INSERT INTO kiribi_jobs (name, queue, status, priority, attempts, max_attempts, payload,
          created_at, run_at)
        SELECT 'bench.noop', 'default', 'pending', 0, 0, 5,
          json_object('seq', i, 'enq_us', 0), 1, 1 FROM s""",
        (N,),
    )
    if os.environ.get("NODRAIN"):
        return 0.0, 0.0
    claim = CLAIM.format(ready=ready, paused=paused)
    claimed = completed = 0.0
    while True:
        start = time.perf_counter()
        rows = db.execute(claim, (1000, OWNER, 10**9, '["bench.noop"]', None, BATCH)).fetchall()
        claimed += time.perf_counter() - start
        if not rows:
            break
        args = (json.dumps([[r[0], r[4], None] for r in rows]), 2000, OWNER)
        start = time.perf_counter()
        db.execute(COMPLETE_SUCCESSES, args).fetchall()
        completed += time.perf_counter() - start
    return claimed * 1e6 / N, completed * 1e6 / N


CASES = {"base": dict(base=True), "now": {}}
for part in ["columns", "paused check", *PARTS]:
    CASES[f"now without {part}"] = dict(without=(part,))

if __name__ == "__main__":
    chosen = sys.argv[1:] or list(CASES)
    print(f"SQLite {sqlite3.sqlite_version}, {N} jobs, claims of {BATCH}, µs per job")
    for label in chosen:
        claim_us, complete_us = drain(*schema(**CASES[label]))
        print(f"{label:34} claim {claim_us:6.2f}  complete {complete_us:6.2f}  "
              f"total {claim_us + complete_us:6.2f}", flush=True)

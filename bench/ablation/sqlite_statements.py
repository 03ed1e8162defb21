#!/usr/bin/env python3
"""What each part of kiribi's SQLite claim and completion costs, statement by statement.

Drains 100,000 jobs in batches of 512 through Python's sqlite3 (no sqlx, no worker,
no Rust), with kiribi's schema (as of the `interruptions` migration) and statements
(the `json_each` forms), and again with one part left out at a time, next to the
raw-limit queue's table and statements. Prints microseconds per job for the claims
and for the completions. Python's own overhead (binding, fetching rows) is in every
row alike; compare rows with each other, not with kiribi-bench's figures.

    python3 bench/ablation/sqlite_statements.py
"""
import json
import os
import sqlite3
import tempfile
import time

N = 100_000
BATCH = 512
OWNER = "worker:somehost.example:12345:0123456789abcdef"

SCHEMA = """
CREATE TABLE kiribi_jobs (id INTEGER PRIMARY KEY, name TEXT NOT NULL, queue TEXT NOT NULL,
 status TEXT NOT NULL, priority INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
 max_attempts INTEGER NOT NULL, payload TEXT NOT NULL, result TEXT, last_error TEXT,
 created_at INTEGER NOT NULL, run_at INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER,
 lease_owner TEXT, lease_expires_at INTEGER, attempted_by TEXT,
 interruptions INTEGER NOT NULL DEFAULT 0);
CREATE TABLE kiribi_attempts (job_id INTEGER NOT NULL, attempt INTEGER NOT NULL, worker TEXT,
 started_at INTEGER, finished_at INTEGER, error TEXT, PRIMARY KEY (job_id, attempt));
CREATE INDEX kiribi_jobs_ready ON kiribi_jobs (priority DESC, run_at, id)
 WHERE status IN ('pending', 'retrying');
"""
BY_STATUS = """CREATE INDEX kiribi_jobs_by_status ON kiribi_jobs (status, id)
 WHERE status NOT IN ('succeeded', 'pending');"""
TRIGGER = """CREATE TRIGGER kiribi_attempt_fails AFTER UPDATE OF status ON kiribi_jobs
WHEN OLD.status = 'running' AND NEW.status IN ('retrying', 'failed') AND NEW.attempts = OLD.attempts
BEGIN INSERT INTO kiribi_attempts (job_id, attempt, worker, started_at, finished_at, error)
 VALUES (NEW.id, NEW.attempts, NEW.attempted_by, NEW.started_at, NEW.finished_at, NEW.last_error)
 ON CONFLICT (job_id, attempt) DO UPDATE SET finished_at = excluded.finished_at,
 error = excluded.error; END;"""

CLAIM = """UPDATE kiribi_jobs SET status = 'running', attempts = attempts + 1, started_at = ?1,
 lease_owner = ?2, lease_expires_at = ?3, attempted_by = ?2
 WHERE id IN (SELECT id FROM kiribi_jobs INDEXED BY kiribi_jobs_ready
   WHERE status IN ('pending', 'retrying') AND run_at <= ?1
   AND name IN (SELECT value FROM json_each(?4))
   AND (?5 IS NULL OR queue IN (SELECT value FROM json_each(?5)))
   ORDER BY priority DESC, run_at, id LIMIT ?6)
 RETURNING id, name, queue, payload, attempts, max_attempts, interruptions, priority, run_at"""
CLAIM_WITHOUT_ATTEMPTED_BY = CLAIM.replace(", attempted_by = ?2", "")

COMPLETE_ANY = """UPDATE kiribi_jobs SET status = c.status, result = c.result,
 last_error = COALESCE(c.error, kiribi_jobs.last_error),
 run_at = COALESCE(c.run_at, kiribi_jobs.run_at), finished_at = c.finished_at,
 interruptions = kiribi_jobs.interruptions + c.interrupted,
 lease_owner = NULL, lease_expires_at = NULL
 FROM (SELECT value ->> 0 AS job_id, value ->> 1 AS attempt, value ->> 2 AS owner,
   value ->> 3 AS status, value ->> 4 AS result, value ->> 5 AS error, value ->> 6 AS run_at,
   value ->> 7 AS finished_at, value ->> 8 AS interrupted FROM json_each(?1)) AS c
 WHERE kiribi_jobs.id = c.job_id AND kiribi_jobs.status = 'running'
   AND kiribi_jobs.attempts = c.attempt AND kiribi_jobs.lease_owner IS c.owner
 RETURNING kiribi_jobs.id"""
COMPLETE_SUCCESSES = """UPDATE kiribi_jobs SET status = 'succeeded', result = c.result,
 finished_at = ?2, lease_owner = NULL, lease_expires_at = NULL
 FROM (SELECT value ->> 0 AS job_id, value ->> 1 AS attempt, value ->> 2 AS result
   FROM json_each(?1)) AS c
 WHERE kiribi_jobs.id = c.job_id AND kiribi_jobs.status = 'running'
   AND kiribi_jobs.attempts = c.attempt AND kiribi_jobs.lease_owner = ?3
 RETURNING kiribi_jobs.id"""
COMPLETE_BY_IDS = """UPDATE kiribi_jobs SET status = 'succeeded', finished_at = ?2
 WHERE id IN (SELECT value FROM json_each(?1)) AND lease_owner = ?3"""


def fresh(schema):
    path = os.path.join(tempfile.mkdtemp(), "jobs.db")
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    db.executescript(schema)
    return db


def kiribi(by_status=True, trigger=True, claim=CLAIM, complete="any"):
    schema = SCHEMA + (BY_STATUS if by_status else "") + (TRIGGER if trigger else "")
    db = fresh(schema)
    db.execute(
        """WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < ?1)
        INSERT INTO kiribi_jobs (name, queue, status, priority, attempts, max_attempts, payload,
          created_at, run_at)
        SELECT 'bench.noop', 'default', 'pending', 0, 0, 5,
          json_object('seq', i, 'enq_us', 0), 1, 1 FROM s""",
        (N,),
    )
    claimed_us = completed_us = 0.0
    while True:
        start = time.perf_counter()
        rows = db.execute(claim, (1000, OWNER, 10**9, '["bench.noop"]', None, BATCH)).fetchall()
        claimed_us += time.perf_counter() - start
        if not rows:
            break
        if complete == "any":
            batch = [[r[0], r[4], OWNER, "succeeded", None, None, None, 2000, 0] for r in rows]
            args = (json.dumps(batch),)
            statement = COMPLETE_ANY
        elif complete == "successes":
            args = (json.dumps([[r[0], r[4], None] for r in rows]), 2000, OWNER)
            statement = COMPLETE_SUCCESSES
        else:
            args = (json.dumps([r[0] for r in rows]), 2000, OWNER)
            statement = COMPLETE_BY_IDS
        start = time.perf_counter()
        db.execute(statement, args).fetchall()
        completed_us += time.perf_counter() - start
    return claimed_us * 1e6 / N, completed_us * 1e6 / N


def raw_limit():
    db = fresh(
        """CREATE TABLE jobs (id INTEGER PRIMARY KEY, payload TEXT NOT NULL, status TEXT NOT NULL,
         attempts INTEGER NOT NULL DEFAULT 0, run_at INTEGER NOT NULL, locked_by TEXT,
         locked_at INTEGER, finished_at INTEGER);
        CREATE INDEX jobs_ready ON jobs (run_at, id) WHERE status = 'pending';"""
    )
    db.execute(
        """WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < ?1)
        INSERT INTO jobs (payload, status, run_at)
        SELECT json_object('seq', i, 'enq_us', 0), 'pending', 1 FROM s""",
        (N,),
    )
    claimed_us = completed_us = 0.0
    while True:
        start = time.perf_counter()
        rows = db.execute(
            """UPDATE jobs SET status = 'running', attempts = attempts + 1, locked_by = ?3,
             locked_at = ?1 WHERE id IN (SELECT id FROM jobs WHERE status = 'pending'
             AND run_at <= ?1 ORDER BY run_at, id LIMIT ?2) RETURNING id, payload""",
            (1000, BATCH, OWNER),
        ).fetchall()
        claimed_us += time.perf_counter() - start
        if not rows:
            break
        start = time.perf_counter()
        db.execute(
            """UPDATE jobs SET status = 'done', finished_at = ?1
             WHERE id IN (SELECT value FROM json_each(?2)) AND locked_by = ?3""",
            (2000, json.dumps([r[0] for r in rows]), OWNER),
        )
        completed_us += time.perf_counter() - start
    return claimed_us * 1e6 / N, completed_us * 1e6 / N


CASES = [
    ("raw-limit", raw_limit),
    ("kiribi, general completion", lambda: kiribi()),
    ("kiribi, successes completion (now)", lambda: kiribi(complete="successes")),
    ("  without kiribi_jobs_by_status", lambda: kiribi(by_status=False, complete="successes")),
    ("  without the attempt trigger", lambda: kiribi(trigger=False, complete="successes")),
    ("  without attempted_by", lambda: kiribi(claim=CLAIM_WITHOUT_ATTEMPTED_BY, complete="successes")),
    ("  completion by ids only, no fence by attempt", lambda: kiribi(complete="ids")),
    ("  all three left out", lambda: kiribi(by_status=False, trigger=False, complete="ids")),
]

if __name__ == "__main__":
    print(f"SQLite {sqlite3.sqlite_version}, {N} jobs, batches of {BATCH}, µs per job")
    for label, run in CASES:
        claim_us, complete_us = run()
        print(f"{label:48} claim {claim_us:5.2f}  complete {complete_us:5.2f}  "
              f"total {claim_us + complete_us:5.2f}")

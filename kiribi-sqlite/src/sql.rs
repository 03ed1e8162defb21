//! The SQL text of every statement the SQLite backend runs.
//!
//! Times are Unix epoch milliseconds, bound from Rust (SQLite's clock is the
//! machine's clock, the same one every process on it reads). Lists of names, queues
//! and ids are bound as one JSON array and unpacked with `json_each`, so every
//! statement here is static text, prepared once and cached.
//!
//! Only attempts that end in an error have a record in `kiribi_attempts`, written by
//! the trigger `kiribi_attempt_fails` (see the `lean_indexes` migration); the job row
//! describes its running or succeeded latest attempt. So every write here is one
//! statement, atomic without an explicit transaction.
//!
//! The hot path avoids `RETURNING` on job rows: SQLite runs it as a trigger that may
//! read any column, so an `UPDATE` with it loads every column of each old row (a job
//! row has 33) besides the new row's. A claim reads the ready jobs
//! ([`READY_JOBS`]) and then moves what it read to `running`, all or none
//! ([`MARK_CLAIMED`], checked once before it changes a row); a busy worker's batch
//! of successes is recorded all or none ([`RECORD_SUCCESSES`], which fails whole on
//! a lease that does not hold). When either records nothing, the caller falls back
//! to the statements with `RETURNING` ([`CLAIM_JOBS`]; [`COMPLETE_SUCCESSES`] and
//! [`COMPLETE_JOBS`]), which report row by row. Each completion is recorded whole or
//! not at all either way.
//!
//! The triggers of job rows (failed attempts, flows) fire on `last_error`: every
//! statement here that ends an attempt, finishes a job or takes a finished one back
//! names `last_error` (`last_error = last_error` where it keeps it), except
//! [`RECORD_SUCCESSES`] and [`COMPLETE_SUCCESSES`], which record successes of jobs
//! outside flows only, and claims never do; so the hot path (claim, then record
//! successes) runs no trigger (see the `triggers_on_last_error` migration). Keep it
//! so in any new statement that changes `status`.

/// Every column of `kiribi_jobs` that `row::decode_job` reads, in [`JOB_COLUMNS`]'
/// order.
macro_rules! job_columns {
    () => {
        "id, name, queue, status, priority, attempts, max_attempts, interruptions, payload, \
         result, last_error, created_at, run_at, started_at, finished_at, lease_owner, \
         lease_expires_at, unique_key, schedule, schedule_tick, progress, flow_id, flow_step"
    };
}

/// The names of [`job_columns!`], in order: `row::decode_job` reads them by
/// position (a unit test keeps the two lists alike).
pub(crate) const JOB_COLUMNS: &[&str] = &[
    "id",
    "name",
    "queue",
    "status",
    "priority",
    "attempts",
    "max_attempts",
    "interruptions",
    "payload",
    "result",
    "last_error",
    "created_at",
    "run_at",
    "started_at",
    "finished_at",
    "lease_owner",
    "lease_expires_at",
    "unique_key",
    "schedule",
    "schedule_tick",
    "progress",
    "flow_id",
    "flow_step",
];

/// The columns every claim returns first, in order (see `claim_jobs!`,
/// `ready_jobs!` and [`CLAIM_LIMITED_JOBS`]); `row::decode_claimed` reads them by
/// position.
macro_rules! claimed_columns {
    () => {
        "id, name, queue, payload, attempts, max_attempts, interruptions, priority, run_at"
    };
}

/// The names of [`claimed_columns!`], in order.
pub(crate) const CLAIMED_COLUMNS: &[&str] = &[
    "id",
    "name",
    "queue",
    "payload",
    "attempts",
    "max_attempts",
    "interruptions",
    "priority",
    "run_at",
];

/// The highest id any job has had: the newest job's, or the highest deleted one's
/// (`kiribi_id_floor`, kept by a delete trigger). New jobs take the ids above it, so
/// no id is ever reused without AUTOINCREMENT's write to `sqlite_sequence` on every
/// insert (see the `two_page_inserts` migration). Both reads are one B-tree seek.
macro_rules! highest_id {
    () => {
        "max((SELECT COALESCE(max(id), 0) FROM kiribi_jobs), \
             (SELECT floor FROM kiribi_id_floor))"
    };
}

/// Columns bound per job by [`insert_jobs`].
pub(crate) const INSERT_JOB_BINDS: usize = 7;

/// One multi-row `INSERT` of `rows` new jobs, with consecutive ids in row order.
///
/// The first row's id is the one above `highest_id!`; each later row takes SQLite's
/// default, one more than the highest id in the table, which is then the row before
/// it (a multi-row `VALUES` is inserted in order). A plain `VALUES` keeps the
/// one-job insert as cheap as one without an id: `INSERT … SELECT` would read the
/// table it writes, which makes SQLite copy the rows through a temporary table.
///
/// Binds per row, in order: name, queue, priority, max_attempts, payload,
/// created_at, run_at.
pub(crate) fn insert_jobs(rows: usize) -> String {
    const HEAD: &str = concat!(
        "INSERT INTO kiribi_jobs \
         (id, name, queue, status, priority, max_attempts, payload, created_at, run_at) \
         VALUES (",
        highest_id!(),
        " + 1"
    );
    const VALUES: &str = ", ?, ?, 'pending', ?, ?, ?, ?, ?)";
    const NEXT_ROW: &str = ", (NULL";
    let mut sql = String::with_capacity(HEAD.len() + rows * (VALUES.len() + NEXT_ROW.len()));
    sql.push_str(HEAD);
    for row in 0..rows {
        if row > 0 {
            sql.push_str(NEXT_ROW);
        }
        sql.push_str(VALUES);
    }
    sql
}

/// The predicate of the partial unique index `kiribi_jobs_unique` (see the
/// `unique_keys` migration): the job holds its unique key.
macro_rules! unique_held_predicate {
    () => {
        "unique_key IS NOT NULL \
         AND (unique_in_any_state = 1 OR status IN ('pending', 'running', 'retrying', 'blocked'))"
    };
}

/// Inserts one job with every column a job may set at enqueue, or nothing when it
/// has a unique key that a job of its name holds (`kiribi_jobs_unique` refuses the
/// row). Jobs with neither a unique key nor limits go through [`insert_jobs`].
///
/// ?1 name, ?2 queue, ?3 priority, ?4 max_attempts, ?5 payload, ?6 created_at,
/// ?7 run_at, ?8 unique key or NULL, ?9 1 if the key is held in any state, ?10 limit
/// key, ?11 concurrency limit or NULL, ?12 rate limit or NULL, ?13 rate period (ms)
/// or NULL.
pub(crate) const INSERT_JOB_WITH_KEYS: &str = concat!(
    "INSERT INTO kiribi_jobs \
     (id, name, queue, status, priority, max_attempts, payload, created_at, run_at, \
      unique_key, unique_in_any_state, limit_key, concurrency_limit, rate_limit, \
      rate_period_ms) \
     VALUES (",
    highest_id!(),
    " + 1, ?1, ?2, 'pending', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) \
     ON CONFLICT DO NOTHING"
);

/// The job of name ?1 that holds unique key ?2.
pub(crate) const UNIQUE_HOLDER: &str = concat!(
    "SELECT id FROM kiribi_jobs WHERE name = ?1 AND unique_key = ?2 AND ",
    unique_held_predicate!()
);

/// Inserts a job that runs inline from the start (`run_now`).
///
/// ?1 name, ?2 queue, ?3 priority, ?4 max_attempts, ?5 payload, ?6 now,
/// ?7 lease owner, ?8 lease expiry.
pub(crate) const INSERT_RUNNING_JOB: &str = concat!(
    "INSERT INTO kiribi_jobs (id, name, queue, status, priority, attempts, max_attempts, \
                              payload, created_at, run_at, started_at, lease_owner, \
                              lease_expires_at, attempted_by) \
     VALUES (",
    highest_id!(),
    " + 1, ?1, ?2, 'running', ?3, 1, ?4, ?5, ?6, ?6, ?6, ?7, ?8, ?7)"
);

/// The predicate of the partial index `kiribi_jobs_by_status` (every status but
/// succeeded and pending), for a query to spell out next to its own `status = …`:
/// SQLite uses a partial index only for a query that repeats its predicate, and
/// would otherwise scan the whole table.
macro_rules! by_status_predicate {
    () => {
        "status NOT IN ('succeeded', 'pending')"
    };
}
pub(crate) use by_status_predicate;

/// The predicate of the partial index `kiribi_jobs_ready` (pending and retrying
/// jobs without limits), to spell out likewise.
macro_rules! ready_predicate {
    () => {
        "status IN ('pending', 'retrying') AND concurrency_limit IS NULL AND rate_limit IS NULL"
    };
}
pub(crate) use ready_predicate;

/// The predicate of the partial index `kiribi_jobs_ready_limited` (pending and
/// retrying jobs with limits), to spell out likewise.
macro_rules! ready_limited_predicate {
    () => {
        "(concurrency_limit IS NOT NULL OR rate_limit IS NOT NULL) \
         AND status IN ('pending', 'retrying')"
    };
}
pub(crate) use ready_limited_predicate;

/// The job's queue is not paused: one lookup in the paused queues' primary key.
// Not `NOT EXISTS (SELECT 1 FROM kiribi_queues) OR …`: the extra subquery costs
// each statement more than it saves its rows (callgrind, claims of 8 jobs:
// bench/ablation/sqlite_features.py).
macro_rules! not_paused {
    () => {
        "queue NOT IN (SELECT name FROM kiribi_queues)"
    };
}

/// ` AND …`: the job is of the names `$names` (JSON array), in one of the queues
/// `$queues` (JSON array, or NULL for every queue), and its queue is not paused.
macro_rules! of_names_in_open_queues {
    ($names:literal, $queues:literal) => {
        concat!(
            " AND name IN (SELECT value FROM json_each(",
            $names,
            ")) AND (",
            $queues,
            " IS NULL OR queue IN (SELECT value FROM json_each(",
            $queues,
            "))) AND ",
            not_paused!()
        )
    };
}

/// Whether a ready limited job of the names `$limited` (JSON array) waits in a
/// queue of `$queues` (JSON array, or NULL for every queue) that is not paused, due
/// by `$now`: an `EXISTS` over the partial index `kiribi_jobs_ready_limited`, which
/// holds only limited jobs, so it reads nothing while none wait.
macro_rules! limited_waiting {
    ($now:literal, $queues:literal, $limited:literal) => {
        concat!(
            "EXISTS (SELECT 1 FROM kiribi_jobs INDEXED BY kiribi_jobs_ready_limited WHERE ",
            ready_limited_predicate!(),
            " AND run_at <= ",
            $now,
            of_names_in_open_queues!($limited, $queues),
            ")"
        )
    };
}

/// Moves up to ?6 ready jobs of queues that are not paused to `running` in claim
/// order; `$returning` is appended to what it returns.
///
/// ?1 now, ?2 lease owner, ?3 lease expiry, ?4 names (JSON array), ?5 queues (JSON
/// array, or NULL for every queue), ?6 limit. `RETURNING` order is unspecified, so
/// it returns what the caller needs to sort the claimed jobs back into claim order.
// `INDEXED BY`: without statistics SQLite may pick another index and sort every
// ready job on every claim (it picked the status index while that held pending
// jobs: O(pending) per claim, measured by kiribi-bench W3); walking the ready index
// in claim order stops after `LIMIT` matches. The predicate is the index's own.
macro_rules! claim_jobs {
    ($returning:expr) => {
        concat!(
            "UPDATE kiribi_jobs \
             SET status = 'running', attempts = attempts + 1, started_at = ?1, \
                 lease_owner = ?2, lease_expires_at = ?3, attempted_by = ?2 \
             WHERE id IN (SELECT id",
            ready_in_claim_order!("?4", "?5", "?6"),
            ") RETURNING ",
            claimed_columns!(),
            $returning
        )
    };
}

/// `FROM … LIMIT` of the jobs a claim takes: up to `$limit` ready jobs without
/// limits, of the names `$names` (JSON array), of the queues `$queues` (JSON array,
/// or NULL for every queue) that are not paused, due by ?1, in claim order.
macro_rules! ready_in_claim_order {
    ($names:literal, $queues:literal, $limit:literal) => {
        concat!(
            " FROM kiribi_jobs INDEXED BY kiribi_jobs_ready WHERE ",
            ready_predicate!(),
            " AND run_at <= ?1",
            of_names_in_open_queues!($names, $queues),
            " ORDER BY priority DESC, run_at, id LIMIT ",
            $limit
        )
    };
}

/// Moves up to ?6 ready jobs without limits to `running` (see [`claim_jobs!`]):
/// the claim when [`MARK_CLAIMED`] found a job it read taken meanwhile.
pub(crate) const CLAIM_JOBS: &str = claim_jobs!("");

/// [`CLAIM_JOBS`], each row also telling whether limited jobs of the names ?7 (JSON
/// array) wait (column `limited_waiting`, see [`limited_waiting!`]): the probe of a
/// claim whose [`LimitedHint`](kiribi_core::backend::LimitedHint) says none do. The
/// uncorrelated subquery is evaluated once per statement.
pub(crate) const CLAIM_JOBS_PROBING: &str = claim_jobs!(concat!(
    ", (SELECT ",
    limited_waiting!("?1", "?5", "?7"),
    ") AS limited_waiting"
));

/// [`claimed_columns!`] as a claim's `SELECT` reads them before it marks the jobs
/// claimed: the attempt the claim starts, one more than the row's.
macro_rules! ready_columns {
    () => {
        "id, name, queue, payload, attempts + 1 AS attempts, max_attempts, interruptions, \
         priority, run_at"
    };
}

/// Up to ?4 ready jobs without limits, of queues that are not paused, in claim
/// order, with the attempt each claim would start, and the connection's
/// `data_version` as it read them (column `data_version`, the same in every row);
/// [`MARK_CLAIMED`] then moves them to `running`. `$extra` is appended to the
/// columns.
///
/// ?1 now, ?2 names (JSON array), ?3 queues (JSON array, or NULL for every queue),
/// ?4 limit.
///
/// A read, then an `UPDATE` of the jobs read, rather than [`CLAIM_JOBS`]' one
/// `UPDATE … RETURNING`: SQLite runs `RETURNING` as a trigger that may read any
/// column, so an `UPDATE` with it loads every column of each old row besides the
/// new one's, which costs a drain of plain jobs more than the extra round trip.
// `INDEXED BY`: see `claim_jobs!`.
macro_rules! ready_jobs {
    ($extra:expr) => {
        concat!(
            "SELECT ",
            ready_columns!(),
            ", (SELECT data_version FROM pragma_data_version) AS data_version",
            $extra,
            ready_in_claim_order!("?2", "?3", "?4")
        )
    };
}

/// Up to ?4 ready jobs without limits (see [`ready_jobs!`]).
pub(crate) const READY_JOBS: &str = ready_jobs!("");

/// [`READY_JOBS`], each row also telling whether limited jobs of the names ?5 (JSON
/// array) wait (column `limited_waiting`, see [`limited_waiting!`]). The
/// uncorrelated subquery is evaluated once per statement.
pub(crate) const READY_JOBS_PROBING: &str = ready_jobs!(concat!(
    ", (SELECT ",
    limited_waiting!("?1", "?3", "?5"),
    ") AS limited_waiting"
));

/// Claims the ?5 jobs that [`READY_JOBS`] read on this connection, all or none:
/// ?4 a JSON array of their ids, ?6 the sum of their attempts as read, ?7 the
/// `data_version` the read saw. It moves them to `running` (?1 now, ?2 lease owner,
/// ?3 lease expiry) only if all of them still wait as read, checked once before
/// any row changes, so its change count is ?5 or 0: none when another process
/// claimed, snoozed, cancelled or deleted one of them or paused its queue
/// meanwhile, and the caller claims with [`CLAIM_JOBS`] instead.
///
/// The check is free while no other connection committed since the read: then
/// `data_version` is unchanged (it counts the other connections' commits only) and
/// the database is as read. Otherwise it looks at the jobs: all still waiting, due,
/// at the attempts read, in queues that are not paused. The sum stands for every
/// job's attempts because a waiting job's attempts never fall below what they
/// were when it waited before: a claim adds one, and only the release of that
/// claim takes it back. No trigger watches the columns it sets, so it reads no
/// column it does not write.
pub(crate) const MARK_CLAIMED: &str = "\
    UPDATE kiribi_jobs \
    SET status = 'running', attempts = attempts + 1, started_at = ?1, \
        lease_owner = ?2, lease_expires_at = ?3, attempted_by = ?2 \
    FROM json_each(?4) AS c \
    WHERE ((SELECT data_version FROM pragma_data_version) = ?7 \
           OR (SELECT count(*) = ?5 AND sum(j.attempts) = ?6 \
               FROM json_each(?4) AS r JOIN kiribi_jobs AS j ON j.id = r.value \
               WHERE j.status IN ('pending', 'retrying') AND j.run_at <= ?1 \
                 AND j.queue NOT IN (SELECT name FROM kiribi_queues))) \
      AND kiribi_jobs.id = c.value";

/// Whether limited jobs wait: ?1 now, ?2 queues, ?3 limited names (see
/// [`limited_waiting!`]); the probe when a claim's probing statement
/// ([`READY_JOBS_PROBING`], [`CLAIM_JOBS_PROBING`]) returned no row.
pub(crate) const LIMITED_WAITING: &str = concat!("SELECT ", limited_waiting!("?1", "?2", "?3"));

/// Pauses queue ?1 at ?2; changes nothing if it is paused already.
pub(crate) const PAUSE_QUEUE: &str = "\
    INSERT INTO kiribi_queues (name, paused_at) VALUES (?1, ?2) ON CONFLICT DO NOTHING";

/// Resumes queue ?1.
pub(crate) const RESUME_QUEUE: &str = "DELETE FROM kiribi_queues WHERE name = ?1";

/// The paused queues: name, paused_at.
pub(crate) const PAUSED_QUEUES: &str = "SELECT name, paused_at FROM kiribi_queues";

/// Per queue with unfinished jobs: name, waiting jobs (pending or retrying), running
/// jobs, and the earliest `run_at` of the waiting jobs due by ?1. Each half repeats
/// the predicate of one partial index (ready; running), so neither reads finished
/// jobs.
pub(crate) const QUEUE_COUNTS: &str = concat!(
    "SELECT queue, count(*) AS waiting, 0 AS running, \
            min(CASE WHEN run_at <= ?1 THEN run_at END) AS oldest_due \
     FROM kiribi_jobs INDEXED BY kiribi_jobs_ready WHERE ",
    ready_predicate!(),
    " GROUP BY queue \
     UNION ALL \
     SELECT queue, count(*), 0, min(CASE WHEN run_at <= ?1 THEN run_at END) \
     FROM kiribi_jobs INDEXED BY kiribi_jobs_ready_limited WHERE ",
    ready_limited_predicate!(),
    " GROUP BY queue \
     UNION ALL \
     SELECT queue, 0, count(*), NULL FROM kiribi_jobs WHERE status = 'running' AND ",
    by_status_predicate!(),
    " GROUP BY queue"
);

/// Moves up to ?6 ready jobs with limits, of the names ?4 (JSON array), to
/// `running` in claim order, as many of each group (name and limit key) as its
/// limits leave room for: fewer running than `concurrency_limit` counting the ones
/// claimed here, fewer claims in the rate window than `rate_limit`. Other parameters
/// as [`CLAIM_JOBS`]. Runs in the claim's write transaction, before the claim's
/// rate starts are recorded ([`RECORD_RATE_STARTS`]).
///
/// Jobs held back by their group's limits are passed over, not waited for: the
/// ranks are counted within each group, so other groups' jobs are claimed.
pub(crate) const CLAIM_LIMITED_JOBS: &str = concat!(
    "UPDATE kiribi_jobs \
     SET status = 'running', attempts = attempts + 1, started_at = ?1, \
         lease_owner = ?2, lease_expires_at = ?3, attempted_by = ?2 \
     WHERE id IN ( \
         SELECT c.id FROM ( \
             SELECT id, name, limit_key, concurrency_limit, rate_limit, priority, run_at, \
                    row_number() OVER ( \
                        PARTITION BY name, limit_key ORDER BY priority DESC, run_at, id \
                    ) AS rank \
             FROM kiribi_jobs INDEXED BY kiribi_jobs_ready_limited WHERE ",
    ready_limited_predicate!(),
    " AND run_at <= ?1",
    of_names_in_open_queues!("?4", "?5"),
    " ) AS c \
         WHERE (c.concurrency_limit IS NULL \
                OR (c.rank <= c.concurrency_limit \
                    AND c.rank <= c.concurrency_limit - ( \
                        SELECT count(*) FROM kiribi_jobs AS r \
                        INDEXED BY kiribi_jobs_running_limited \
                        WHERE r.concurrency_limit IS NOT NULL AND r.status = 'running' \
                          AND r.name = c.name AND r.limit_key = c.limit_key))) \
           AND (c.rate_limit IS NULL \
                OR (c.rank <= c.rate_limit \
                    AND c.rank <= c.rate_limit - ( \
                        SELECT count(*) FROM kiribi_rate_starts AS s \
                        WHERE s.name = c.name AND s.limit_key = c.limit_key \
                          AND s.expires_at > ?1))) \
         ORDER BY c.priority DESC, c.run_at, c.id \
         LIMIT ?6) \
     RETURNING ",
    claimed_columns!(),
    ", limit_key, rate_limit, rate_period_ms"
);

/// Records claims of rate-limited jobs: ?1 a JSON array of `[name, limit key,
/// expires_at]`, one per claimed job, counted against its group until it expires.
pub(crate) const RECORD_RATE_STARTS: &str = "\
    INSERT INTO kiribi_rate_starts (name, limit_key, expires_at) \
    SELECT value ->> 0, value ->> 1, value ->> 2 FROM json_each(?1)";

/// Forgets the claims whose rate window ended by ?1.
pub(crate) const PRUNE_RATE_STARTS: &str = "\
    DELETE FROM kiribi_rate_starts WHERE expires_at <= ?1";

/// Extends every lease of worker ?2 to ?1.
pub(crate) const RENEW_LEASES: &str = concat!(
    "UPDATE kiribi_jobs SET lease_expires_at = ?1 WHERE status = 'running' AND ",
    by_status_predicate!(),
    " AND lease_owner = ?2"
);

/// Records a batch of outcomes on their jobs, each fenced by (id, attempt, lease
/// owner); returns the id of every job whose lease held. `$each` is the JSON
/// function that splits the batch: see [`COMPLETE_JOBS`] and [`COMPLETE_JOBS_JSONB`].
///
/// ?1 a JSON array with one array per completion: `[id, attempt, owner, status,
/// result (JSON text) or null, error or null (keeps the previous one), milliseconds
/// until the next attempt is due or null (keeps `run_at`), finished_at or null, 1
/// if the attempt was interrupted else 0, 1 if the attempt is given back uncharged
/// (a snooze) else 0]`. The next `run_at` counts from the statement's own clock,
/// the one the trigger `kiribi_attempt_fails` stamps the attempt's end with, so a
/// retry is never due sooner after its attempt's recorded end than its delay.
///
/// A job whose cancel was requested (`cancel_requested`) is not made to wait again:
/// an unfinished outcome is stored as `cancelled`, finished now, charged (see the
/// `Storage` contract). A released attempt puts `started_at` and `attempted_by` back
/// as [`RELEASE_JOB`] does.
macro_rules! complete_jobs {
    ($each:literal) => {
        concat!(
            "UPDATE kiribi_jobs \
             SET status = CASE \
                     WHEN kiribi_jobs.cancel_requested = 1 AND c.finished_at IS NULL \
                         THEN 'cancelled' \
                     WHEN c.released = 1 AND kiribi_jobs.attempts = 1 THEN 'pending' \
                     ELSE c.status END, \
                 attempts = kiribi_jobs.attempts \
                     - (c.released = 1 AND kiribi_jobs.cancel_requested = 0), \
                 started_at = CASE WHEN c.released = 1 AND kiribi_jobs.cancel_requested = 0 \
                     THEN (SELECT a.started_at FROM kiribi_attempts AS a \
                           WHERE a.job_id = kiribi_jobs.id \
                             AND a.attempt = kiribi_jobs.attempts - 1) \
                     ELSE kiribi_jobs.started_at END, \
                 attempted_by = CASE WHEN c.released = 1 AND kiribi_jobs.cancel_requested = 0 \
                     THEN (SELECT a.worker FROM kiribi_attempts AS a \
                           WHERE a.job_id = kiribi_jobs.id \
                             AND a.attempt = kiribi_jobs.attempts - 1) \
                     ELSE kiribi_jobs.attempted_by END, \
                 result = c.result, \
                 last_error = COALESCE(c.error, kiribi_jobs.last_error), \
                 run_at = COALESCE(CAST(unixepoch('subsec') * 1000 AS INTEGER) + c.retry_in, \
                                   kiribi_jobs.run_at), \
                 finished_at = CASE \
                     WHEN kiribi_jobs.cancel_requested = 1 AND c.finished_at IS NULL \
                         THEN CAST(unixepoch('subsec') * 1000 AS INTEGER) \
                     ELSE c.finished_at END, \
                 interruptions = kiribi_jobs.interruptions + c.interrupted, \
                 lease_owner = NULL, lease_expires_at = NULL \
             FROM (SELECT value ->> 0 AS job_id, value ->> 1 AS attempt, value ->> 2 AS owner, \
                          value ->> 3 AS status, value ->> 4 AS result, value ->> 5 AS error, \
                          value ->> 6 AS retry_in, value ->> 7 AS finished_at, \
                          value ->> 8 AS interrupted, value ->> 9 AS released \
                   FROM ",
            $each,
            "(?1)) AS c \
             WHERE kiribi_jobs.id = c.job_id AND kiribi_jobs.status = 'running' \
               AND kiribi_jobs.attempts = c.attempt AND kiribi_jobs.lease_owner IS c.owner \
             RETURNING kiribi_jobs.id"
        )
    };
}

/// [`complete_jobs!`] with `json_each`, built into every SQLite kiribi supports: it
/// hands each completion over as JSON text, which every `->>` parses again.
pub(crate) const COMPLETE_JOBS: &str = complete_jobs!("json_each");

/// [`complete_jobs!`] with `jsonb_each` (SQLite 3.51 and later), which parses the
/// batch once and hands each completion over as JSONB, which `->>` reads without
/// parsing: the drain of `kiribi-bench` W3 measured about 10 % faster with it.
pub(crate) const COMPLETE_JOBS_JSONB: &str = complete_jobs!("jsonb_each");

/// Records a batch of successes of one worker, the usual batch of a busy worker,
/// with a third of the JSON of [`complete_jobs!`] to split and no column to look
/// up for what every success sets alike. Fenced and returning as that statement,
/// and only for jobs outside flows: it does not name `last_error`, so it runs no
/// trigger, and a flow step's success must run `kiribi_flow_step_changed`. The
/// caller records what it did not take (flow steps, lost leases) with
/// [`complete_jobs!`].
///
/// ?1 a JSON array with one array per success: `[id, attempt, result (JSON text) or
/// null]`; ?2 finished_at; ?3 the lease owner of every job in the batch.
macro_rules! complete_successes {
    ($each:literal) => {
        concat!(
            "UPDATE kiribi_jobs \
             SET status = 'succeeded', result = c.result, finished_at = ?2, \
                 lease_owner = NULL, lease_expires_at = NULL",
            successes_from!($each),
            " WHERE kiribi_jobs.id = c.job_id AND ",
            success_holds!()
        )
    };
}

/// ` FROM …`: the batch of successes ?1, split by `$each` into rows `c` of
/// `job_id`, `attempt` and `result` (see [`complete_successes!`]).
macro_rules! successes_from {
    ($each:literal) => {
        concat!(
            " FROM (SELECT value ->> 0 AS job_id, value ->> 1 AS attempt, \
                           value ->> 2 AS result FROM ",
            $each,
            "(?1)) AS c"
        )
    };
}

/// The success `c` may be recorded on its job row: the lease of its attempt is
/// held by ?3, and the job is not a flow step (whose success must run the flow
/// trigger, which these statements do not).
macro_rules! success_holds {
    () => {
        "kiribi_jobs.status = 'running' AND kiribi_jobs.attempts = c.attempt \
         AND kiribi_jobs.lease_owner = ?3 AND kiribi_jobs.flow_id IS NULL"
    };
}

/// [`complete_successes!`] with `json_each`.
pub(crate) const COMPLETE_SUCCESSES: &str = concat!(
    complete_successes!("json_each"),
    " RETURNING kiribi_jobs.id"
);

/// [`complete_successes!`] with `jsonb_each`.
pub(crate) const COMPLETE_SUCCESSES_JSONB: &str = concat!(
    complete_successes!("jsonb_each"),
    " RETURNING kiribi_jobs.id"
);

/// [`complete_successes!`] all or nothing, and without `RETURNING`: ?1, ?2 and ?3
/// as there. It visits the row of every success in the batch and gives a row
/// whose lease does not hold (another attempt's, another owner's, a flow step's) a
/// NULL status, which the `NOT NULL` constraint refuses: the statement then fails
/// with that violation and SQLite backs all of its changes out, and the caller
/// records the batch with the statements that return the jobs whose leases held.
/// When it succeeds, every row it visited held; a job whose row is gone (pruned
/// after its lease was lost) was not visited, so its change count falls short by
/// such jobs, and the caller looks up which ones.
///
/// `RETURNING` runs as a trigger that may read any column, so an `UPDATE` with it
/// loads every column of each old row, which costs a drain of plain jobs more than
/// this statement's fence in its `SET`.
macro_rules! record_successes {
    ($each:literal) => {
        concat!(
            "UPDATE kiribi_jobs \
             SET status = CASE WHEN ",
            success_holds!(),
            " THEN 'succeeded' END, \
                 result = c.result, finished_at = ?2, \
                 lease_owner = NULL, lease_expires_at = NULL",
            successes_from!($each),
            " WHERE kiribi_jobs.id = c.job_id"
        )
    };
}

/// Which of the jobs ?1 (a JSON array of ids) exist.
pub(crate) const EXISTING_JOBS: &str =
    "SELECT id FROM kiribi_jobs WHERE id IN (SELECT value FROM json_each(?1))";

/// [`record_successes!`] with `json_each`.
pub(crate) const RECORD_SUCCESSES: &str = record_successes!("json_each");

/// [`record_successes!`] with `jsonb_each`.
pub(crate) const RECORD_SUCCESSES_JSONB: &str = record_successes!("jsonb_each");

/// The first SQLite with `jsonb_each`.
pub(crate) const JSONB_EACH_SINCE: (u32, u32, u32) = (3, 51, 0);

/// Gives a claimed job back uncharged, fenced by (?1 id, ?2 attempt, ?3 lease owner);
/// one asked to stop ends `cancelled` at ?4 (now) instead of waiting again. The
/// attempt
/// count, `started_at` and `attempted_by` go back to what they were before the claim
/// (the previous attempt ended in an error, so it has a record).
pub(crate) const RELEASE_JOB: &str = "\
    UPDATE kiribi_jobs \
    SET attempts = attempts - 1, \
        status = CASE WHEN cancel_requested = 1 THEN 'cancelled' \
                      WHEN attempts - 1 = 0 THEN 'pending' ELSE 'retrying' END, \
        finished_at = CASE WHEN cancel_requested = 1 THEN ?4 ELSE finished_at END, \
        last_error = last_error, \
        started_at = (SELECT a.started_at FROM kiribi_attempts AS a \
                      WHERE a.job_id = kiribi_jobs.id AND a.attempt = kiribi_jobs.attempts - 1), \
        attempted_by = (SELECT a.worker FROM kiribi_attempts AS a \
                        WHERE a.job_id = kiribi_jobs.id AND a.attempt = kiribi_jobs.attempts - 1), \
        lease_owner = NULL, lease_expires_at = NULL \
    WHERE id = ?1 AND status = 'running' AND attempts = ?2 AND lease_owner = ?3";

/// Removes the record of a released attempt, which only an older kiribi (that opened
/// records at the claim) may have left. ?1 job id, ?2 attempt.
pub(crate) const DELETE_ATTEMPT: &str = "\
    DELETE FROM kiribi_attempts WHERE job_id = ?1 AND attempt = ?2";

/// Running jobs whose lease ran out before ?1, by id.
pub(crate) const EXPIRED_LEASES: &str = concat!(
    "SELECT id, attempts, lease_owner, max_attempts, interruptions FROM kiribi_jobs \
     WHERE status = 'running' AND ",
    by_status_predicate!(),
    " AND lease_expires_at < ?1 ORDER BY id"
);

/// One job by ?1 id.
pub(crate) const GET_JOB: &str =
    concat!("SELECT ", job_columns!(), " FROM kiribi_jobs WHERE id = ?1");

/// The start of a listing; `list` appends only fixed conditions.
pub(crate) const LIST_JOBS: &str = concat!("SELECT ", job_columns!(), " FROM kiribi_jobs");

/// The attempts of job ?1, oldest first: the recorded ones, then the latest one from
/// the job row while it runs or once it succeeded (a record of that attempt, left by
/// an older kiribi, gives way to the row).
pub(crate) const LIST_ATTEMPTS: &str = "\
    SELECT a.job_id, a.attempt, a.worker, a.started_at, a.finished_at, a.error \
    FROM kiribi_attempts AS a \
    WHERE a.job_id = ?1 AND NOT EXISTS ( \
        SELECT 1 FROM kiribi_jobs AS j \
        WHERE j.id = a.job_id AND j.attempts = a.attempt \
          AND j.status IN ('running', 'succeeded')) \
    UNION ALL \
    SELECT j.id, j.attempts, COALESCE(j.attempted_by, a.worker), j.started_at, \
           CASE WHEN j.status = 'succeeded' THEN j.finished_at END, NULL \
    FROM kiribi_jobs AS j \
    LEFT JOIN kiribi_attempts AS a ON a.job_id = j.id AND a.attempt = j.attempts \
    WHERE j.id = ?1 AND j.status IN ('running', 'succeeded') AND j.attempts > 0 \
    ORDER BY 2";

/// Cancels job ?2 if it waits (?1 now), or asks it to stop if it runs: a running
/// job keeps its status and lease, and `cancel_requested` is set, which bumps
/// `kiribi_cancel_signal` (see the `cancel_requests` migration). One statement, so
/// a job that starts or ends meanwhile is seen in one state or the other.
pub(crate) const CANCEL_JOB: &str = "\
    UPDATE kiribi_jobs \
    SET status = CASE WHEN status = 'running' THEN status ELSE 'cancelled' END, \
        finished_at = CASE WHEN status = 'running' THEN finished_at ELSE ?1 END, \
        cancel_requested = CASE WHEN status = 'running' THEN 1 ELSE cancel_requested END, \
        last_error = last_error \
    WHERE id = ?2 AND status IN ('pending', 'retrying', 'running', 'blocked')";

/// The running jobs of lease owner ?1 whose cancel was requested, by id: through
/// the status index, over running jobs only.
pub(crate) const CANCEL_REQUESTS: &str = concat!(
    "SELECT id FROM kiribi_jobs WHERE status = 'running' AND ",
    by_status_predicate!(),
    " AND lease_owner = ?1 AND cancel_requested = 1 ORDER BY id"
);

/// How many cancels of running jobs were ever requested: one primary-key read.
pub(crate) const CANCEL_SIGNAL: &str = "SELECT requests FROM kiribi_cancel_signal WHERE id = 1";

/// Makes job ?2 due at ?1 if it waits for a later time (see `Storage::make_due`).
pub(crate) const MAKE_DUE: &str = "\
    UPDATE kiribi_jobs SET run_at = ?1 \
    WHERE id = ?2 AND status IN ('pending', 'retrying') AND run_at > ?1";

/// Makes job ?2 ready at ?1 again, with at least one attempt left, unless another
/// job of its name took its unique key meanwhile (which would make two holders). A
/// flow step with dependencies left waits for them again (`blocked`); the trigger
/// `kiribi_flow_step_changed` brings back the steps it cancelled.
pub(crate) const RETRY_JOB: &str = "\
    UPDATE kiribi_jobs \
    SET status = CASE WHEN deps_left > 0 THEN 'blocked' \
                      WHEN attempts = 0 THEN 'pending' ELSE 'retrying' END, \
        max_attempts = MAX(max_attempts, attempts + 1), \
        run_at = ?1, finished_at = NULL, cancel_requested = 0, cancelled_by = NULL, \
        last_error = last_error \
    WHERE id = ?2 AND status IN ('failed', 'cancelled', 'retrying') \
      AND NOT EXISTS ( \
          SELECT 1 FROM kiribi_jobs AS other \
          WHERE other.name = kiribi_jobs.name AND other.unique_key = kiribi_jobs.unique_key \
            AND other.id <> kiribi_jobs.id AND \
            (other.unique_in_any_state = 1 \
             OR other.status IN ('pending', 'running', 'retrying', 'blocked')))";

/// Deletes job ?1 unless it runs; its attempts go with it (`ON DELETE CASCADE`).
pub(crate) const DELETE_JOB: &str = "\
    DELETE FROM kiribi_jobs WHERE id = ?1 AND status <> 'running'";

/// Stores trace contexts: ?1 a JSON array of `[job id, traceparent]`.
pub(crate) const INSERT_TRACES: &str = "\
    INSERT INTO kiribi_job_traces (job_id, traceparent) \
    SELECT value ->> 0, value ->> 1 FROM json_each(?1)";

/// The stored trace contexts of the jobs ?1 (a JSON array of ids).
pub(crate) const TRACES_OF: &str = "\
    SELECT job_id, traceparent FROM kiribi_job_traces \
    WHERE job_id IN (SELECT value FROM json_each(?1))";

/// Stores log lines of jobs that exist, each once (see the `logs` migration).
///
/// ?1 a JSON array with one array per line: `[job_id, attempt, seq, at (epoch ms),
/// level, message]`. Lines of a job that is gone are left out by the `EXISTS`
/// (a foreign key violation would fail the whole batch).
pub(crate) const APPEND_LOGS: &str = "\
    INSERT INTO kiribi_logs (job_id, attempt, seq, at, level, message) \
    SELECT l.value ->> 0, l.value ->> 1, l.value ->> 2, l.value ->> 3, l.value ->> 4, \
           l.value ->> 5 \
    FROM json_each(?1) AS l \
    WHERE EXISTS (SELECT 1 FROM kiribi_jobs AS j WHERE j.id = l.value ->> 0) \
    ON CONFLICT (job_id, attempt, seq) DO NOTHING";

/// Stores the progress of jobs whose latest attempt reported it.
///
/// ?1 a JSON array with one array per job: `[id, attempt, progress]`.
pub(crate) const SET_PROGRESS: &str = "\
    UPDATE kiribi_jobs SET progress = p.value ->> 2 \
    FROM json_each(?1) AS p \
    WHERE kiribi_jobs.id = p.value ->> 0 AND kiribi_jobs.attempts = p.value ->> 1";

/// The log lines of job ?1, by attempt then seq: the primary key's order.
pub(crate) const LIST_LOGS: &str = "\
    SELECT job_id, attempt, seq, at, level, message FROM kiribi_logs \
    WHERE job_id = ?1 ORDER BY attempt, seq";

/// Every column of `kiribi_schedules`, in the order `row::decode_schedule` reads them.
macro_rules! schedule_columns {
    () => {
        "name, job_name, cron, timezone, payload, queue, priority, max_attempts, paused, \
         next_run_at, last_run_at, last_job_id, created_at, updated_at"
    };
}

/// Inserts schedule ?1 or updates the one of that name (see
/// `Storage::upsert_schedule`): the next tick stays unless the cron or the time zone
/// changed or the update resumes the schedule.
///
/// ?1 name, ?2 job name, ?3 cron, ?4 time zone, ?5 payload (JSON text), ?6 queue,
/// ?7 priority, ?8 max_attempts, ?9 paused (1, 0 or NULL: keep), ?10 next_run_at,
/// ?11 now.
pub(crate) const UPSERT_SCHEDULE: &str = concat!(
    "INSERT INTO kiribi_schedules (name, job_name, cron, timezone, payload, queue, priority, \
                                   max_attempts, paused, next_run_at, created_at, updated_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, COALESCE(?9, 0), ?10, ?11, ?11) \
     ON CONFLICT (name) DO UPDATE SET \
         job_name = excluded.job_name, cron = excluded.cron, timezone = excluded.timezone, \
         payload = excluded.payload, queue = excluded.queue, priority = excluded.priority, \
         max_attempts = excluded.max_attempts, \
         paused = COALESCE(?9, kiribi_schedules.paused), \
         next_run_at = CASE \
             WHEN kiribi_schedules.cron = excluded.cron \
              AND kiribi_schedules.timezone = excluded.timezone \
              AND NOT (kiribi_schedules.paused = 1 AND ?9 IS 0) \
             THEN kiribi_schedules.next_run_at ELSE excluded.next_run_at END, \
         updated_at = excluded.updated_at \
     RETURNING ",
    schedule_columns!()
);

/// Every schedule, by name.
pub(crate) const LIST_SCHEDULES: &str = concat!(
    "SELECT ",
    schedule_columns!(),
    " FROM kiribi_schedules ORDER BY name"
);

/// Deletes schedule ?1.
pub(crate) const DELETE_SCHEDULE: &str = "DELETE FROM kiribi_schedules WHERE name = ?1";

/// Pauses (?2 = 1) or resumes (?2 = 0) schedule ?1; ?3 the next tick or NULL (keep);
/// ?4 now.
pub(crate) const SET_SCHEDULE_PAUSED: &str = "\
    UPDATE kiribi_schedules \
    SET paused = ?2, next_run_at = COALESCE(?3, next_run_at), updated_at = ?4 \
    WHERE name = ?1";

/// The compare-and-set of a due tick: moves schedule ?1's next tick from ?2 to ?4
/// and records tick ?3, only if ?2 is still its next tick and it is not paused.
/// One row changed: this caller enqueues the tick; none: another did, or the
/// schedule changed.
pub(crate) const ADVANCE_SCHEDULE: &str = "\
    UPDATE kiribi_schedules SET next_run_at = ?4, last_run_at = ?3 \
    WHERE name = ?1 AND next_run_at = ?2 AND paused = 0";

/// Whether schedule ?1 exists, for a run by hand.
pub(crate) const SCHEDULE_EXISTS: &str =
    "SELECT EXISTS (SELECT 1 FROM kiribi_schedules WHERE name = ?1)";

/// Marks job ?1 as enqueued by schedule ?2 for tick ?3 (NULL for a run by hand),
/// and the job as the schedule's last.
pub(crate) const MARK_SCHEDULED_JOB: &str = "\
    UPDATE kiribi_jobs SET schedule = ?2, schedule_tick = ?3 WHERE id = ?1";

/// Records job ?2 as schedule ?1's last.
pub(crate) const RECORD_LAST_JOB: &str =
    "UPDATE kiribi_schedules SET last_job_id = ?2 WHERE name = ?1";

/// Whether `create_search_indexes` built the text index.
pub(crate) const TEXT_INDEX_EXISTS: &str = "\
    SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'kiribi_jobs_text')";

/// A job whose payload or last error holds the trigrams of FTS5 phrase ? in order.
pub(crate) const TEXT_MATCHES: &str =
    "id IN (SELECT rowid FROM kiribi_jobs_text WHERE kiribi_jobs_text MATCH ?)";

/// The search indexes of `Storage::create_search_indexes`, in one write
/// transaction, after [`TEXT_INDEX_EXISTS`] said they are not there.
///
/// The text index is an FTS5 table with the trigram tokenizer (case-sensitive, as
/// the text filter is), contentless: it keeps the trigrams and the job ids, not a
/// second copy of the text. Triggers keep it: every insert adds the job's payload
/// and last error, a change of the last error (a failed attempt; a success does
/// not name it) replaces them, and a delete removes them. Building it reads every
/// job once; then every enqueue tokenizes its payload.
///
/// Creation times get a plain index, written by every enqueue.
pub(crate) const CREATE_SEARCH_INDEXES: &str = "\
    CREATE VIRTUAL TABLE kiribi_jobs_text USING fts5 ( \
        payload, last_error, content = '', contentless_delete = 1, \
        tokenize = 'trigram case_sensitive 1'); \
    INSERT INTO kiribi_jobs_text (rowid, payload, last_error) \
    SELECT id, payload, last_error FROM kiribi_jobs; \
    CREATE TRIGGER kiribi_jobs_text_inserted AFTER INSERT ON kiribi_jobs BEGIN \
        INSERT INTO kiribi_jobs_text (rowid, payload, last_error) \
        VALUES (NEW.id, NEW.payload, NEW.last_error); \
    END; \
    CREATE TRIGGER kiribi_jobs_text_error AFTER UPDATE OF last_error ON kiribi_jobs \
    WHEN NEW.last_error IS NOT OLD.last_error BEGIN \
        DELETE FROM kiribi_jobs_text WHERE rowid = NEW.id; \
        INSERT INTO kiribi_jobs_text (rowid, payload, last_error) \
        VALUES (NEW.id, NEW.payload, NEW.last_error); \
    END; \
    CREATE TRIGGER kiribi_jobs_text_deleted AFTER DELETE ON kiribi_jobs BEGIN \
        DELETE FROM kiribi_jobs_text WHERE rowid = OLD.id; \
    END; \
    CREATE INDEX IF NOT EXISTS kiribi_jobs_created ON kiribi_jobs (created_at);";

/// The table that records applied migrations.
pub(crate) const CREATE_MIGRATIONS_TABLE: &str = "\
    CREATE TABLE IF NOT EXISTS kiribi_migrations ( \
        version     INTEGER PRIMARY KEY, \
        description TEXT    NOT NULL, \
        applied_at  INTEGER NOT NULL)";

/// Whether the table of applied migrations exists.
pub(crate) const MIGRATIONS_TABLE_EXISTS: &str = "\
    SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'kiribi_migrations')";

/// A counter that changes when another connection commits to the database.
pub(crate) const DATA_VERSION: &str = "PRAGMA data_version";

/// The version of the SQLite library this connection runs.
pub(crate) const SQLITE_VERSION: &str = "SELECT sqlite_version()";

/// The versions already applied.
pub(crate) const APPLIED_MIGRATIONS: &str =
    "SELECT version FROM kiribi_migrations ORDER BY version";

/// Records migration ?1 (?2 description) as applied at ?3.
pub(crate) const RECORD_MIGRATION: &str = "\
    INSERT INTO kiribi_migrations (version, description, applied_at) VALUES (?1, ?2, ?3)";

pub(crate) mod flow;
pub(crate) mod rollup;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_jobs_binds_seven_values_per_row() {
        let sql = insert_jobs(3);
        assert_eq!(sql.matches('?').count(), 3 * INSERT_JOB_BINDS);
        assert_eq!(sql.matches("(NULL, ?").count(), 2, "{sql}");
    }

    fn names(list: &str) -> Vec<&str> {
        list.split(',').map(str::trim).collect()
    }

    #[test]
    fn column_lists_read_by_position_name_their_columns_in_order() {
        assert_eq!(names(job_columns!()), JOB_COLUMNS);
        assert_eq!(names(claimed_columns!()), CLAIMED_COLUMNS);
        for claim in [CLAIM_JOBS, CLAIM_JOBS_PROBING, CLAIM_LIMITED_JOBS] {
            assert!(
                claim.contains(concat!("RETURNING ", claimed_columns!())),
                "{claim}"
            );
        }
        assert_eq!(
            ready_columns!().replace(" + 1 AS attempts", ""),
            claimed_columns!()
        );
        for read in [READY_JOBS, READY_JOBS_PROBING] {
            assert!(read.contains("AS data_version"), "{read}");
            assert!(
                read.starts_with(concat!("SELECT ", ready_columns!())),
                "{read}"
            );
        }
    }
}

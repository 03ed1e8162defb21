//! The SQL text of every statement the PostgreSQL backend runs.
//!
//! Names are unqualified: every connection of kiribi's pool has `search_path` set to
//! `"<schema>", public`. Times come from the database's clock (`now()`, one value per
//! statement); durations are bound as whole microseconds and multiplied by
//! `interval '1 microsecond'`. Lists are bound as arrays, so every statement is
//! static text, prepared once per connection. `jsonb` travels as text (sqlx's `json`
//! feature stays off): bound text is cast `::jsonb`, and read back `::text`.
//!
//! Only attempts that end in an error have a record in `kiribi_attempts`; the job
//! row describes its running or succeeded latest attempt (see the `lean_indexes`
//! migration). Each write that touches a job and its attempt history is one
//! statement, with data-modifying CTEs, so the two can never disagree.

/// Every column of `kiribi_jobs`, in the order `row::decode_job` reads them.
macro_rules! job_columns {
    () => {
        "id, name, queue, status, priority, attempts, max_attempts, interruptions, \
         payload::text AS payload, result::text AS result, last_error, created_at, run_at, \
         started_at, finished_at, lease_owner, lease_expires_at, unique_key, schedule, \
         schedule_tick, progress, flow_id, flow_step"
    };
}

/// Inserts a batch of jobs in one statement and returns their ids.
///
/// Arrays, one element per job: $1 names, $2 queues, $3 priorities, $4
/// max_attempts, $5 payloads (JSON text), $6 delays (µs), $7 run_at (NULL: now +
/// delay). The identity's `nextval` runs above the `ORDER BY`, so ids are drawn in
/// input order: sorted, the returned ids are the input's (`RETURNING` itself
/// promises no order).
pub(crate) const INSERT_JOBS: &str = "\
    INSERT INTO kiribi_jobs (name, queue, status, priority, max_attempts, payload, \
                             created_at, run_at) \
    SELECT name, queue, 'pending', priority, max_attempts, payload::jsonb, now(), \
           COALESCE(run_at, now() + delay_us * interval '1 microsecond') \
    FROM UNNEST($1::text[], $2::text[], $3::int4[], $4::int4[], $5::text[], $6::int8[], \
                $7::timestamptz[]) \
        WITH ORDINALITY AS t(name, queue, priority, max_attempts, payload, delay_us, run_at, \
                             ord) \
    ORDER BY ord \
    RETURNING id";

/// Inserts one job and returns its id: [`INSERT_JOBS`] for the common single job,
/// without the arrays.
///
/// $1 name, $2 queue, $3 priority, $4 max_attempts, $5 payload (JSON text), $6 delay
/// (µs), $7 run_at (NULL: now + delay).
pub(crate) const INSERT_JOB: &str = "\
    INSERT INTO kiribi_jobs (name, queue, status, priority, max_attempts, payload, \
                             created_at, run_at) \
    VALUES ($1, $2, 'pending', $3, $4, $5::jsonb, now(), \
            COALESCE($7, now() + $6 * interval '1 microsecond')) \
    RETURNING id";

/// Inserts one job with every column a job may set at enqueue and returns its id,
/// or nothing when it has a unique key that a job of its name holds
/// (`kiribi_jobs_unique` refuses the row; a holder being inserted by another
/// transaction is waited for). Jobs with neither go through [`INSERT_JOBS`].
///
/// $1 name, $2 queue, $3 priority, $4 max_attempts, $5 payload (JSON text), $6 delay
/// (µs), $7 run_at (NULL: now + delay), $8 unique key or NULL, $9 whether the key is
/// held in any state, $10 limit key, $11 concurrency limit or NULL, $12 rate limit or
/// NULL, $13 rate period (µs) or NULL.
pub(crate) const INSERT_JOB_WITH_KEYS: &str = "\
    INSERT INTO kiribi_jobs (name, queue, status, priority, max_attempts, payload, \
                             created_at, run_at, unique_key, unique_in_any_state, \
                             limit_key, concurrency_limit, rate_limit, rate_period_us) \
    VALUES ($1, $2, 'pending', $3, $4, $5::jsonb, now(), \
            COALESCE($7, now() + $6 * interval '1 microsecond'), $8, $9, $10, $11, $12, $13) \
    ON CONFLICT DO NOTHING \
    RETURNING id";

/// The job of name $1 that holds unique key $2. The predicate is the one of
/// `kiribi_jobs_unique`, which answers it.
pub(crate) const UNIQUE_HOLDER: &str = "\
    SELECT id FROM kiribi_jobs \
    WHERE name = $1 AND unique_key = $2 AND unique_key IS NOT NULL \
      AND (unique_in_any_state OR status IN ('pending', 'running', 'retrying', 'blocked'))";

/// Inserts a job that runs inline from the start (`run_now`): its first attempt is
/// open.
///
/// $1 name, $2 queue, $3 priority, $4 max_attempts, $5 payload (JSON text), $6 lease
/// owner, $7 lease (µs).
pub(crate) const INSERT_RUNNING_JOB: &str = "\
    INSERT INTO kiribi_jobs (name, queue, status, priority, attempts, max_attempts, payload, \
                             created_at, run_at, started_at, lease_owner, lease_expires_at, \
                             attempted_by) \
    VALUES ($1, $2, 'running', $3, 1, $4, $5::jsonb, now(), now(), now(), $6, \
            now() + $7 * interval '1 microsecond', $6) \
    RETURNING id";

/// The CTEs `picked` and `claimed` that move up to $3 ready jobs to `running`,
/// which opens their next attempt.
///
/// $1 names, $2 queues (NULL for every queue), $3 limit, $4 lease owner, $5 lease
/// (µs). `kiribi_pick_jobs` (see its migration) walks the ready index in claim
/// order with `FOR UPDATE SKIP LOCKED`, which lets concurrent claims pass each
/// other's rows instead of waiting for them or handing them out twice.
macro_rules! claim_ctes {
    () => {
        "WITH picked AS ( \
            SELECT id FROM kiribi_pick_jobs($1::text[], $2::text[], $3) AS id \
        ), claimed AS ( \
            UPDATE kiribi_jobs AS j \
            SET status = 'running', attempts = j.attempts + 1, started_at = now(), \
                lease_owner = $4, lease_expires_at = now() + $5 * interval '1 microsecond', \
                attempted_by = $4 \
            FROM picked WHERE j.id = picked.id \
            RETURNING j.id, j.name, j.queue, j.payload, j.attempts, j.max_attempts, \
                      j.interruptions, j.priority, j.run_at \
        ) "
    };
}

/// Claims up to $3 ready jobs (see [`claim_ctes!`]) and returns them in claim order.
pub(crate) const CLAIM_JOBS: &str = concat!(
    claim_ctes!(),
    "SELECT id, name, queue, payload::text AS payload, attempts, max_attempts, interruptions, \
     run_at \
     FROM claimed ORDER BY priority DESC, run_at, id"
);

/// [`CLAIM_JOBS`], and whether ready limited jobs of the names $6 wait in queues of
/// $2 that are not paused (column `limited_waiting`): the probe of a claim whose
/// `LimitedHint` says none do. Always one row at least: when nothing was claimed,
/// one whose job columns are NULL. The predicate is the partial index
/// `kiribi_jobs_ready_limited`'s, which holds only limited jobs.
pub(crate) const CLAIM_JOBS_PROBING: &str = concat!(
    claim_ctes!(),
    ", probe AS ( \
        SELECT EXISTS ( \
            SELECT 1 FROM kiribi_jobs \
            WHERE status IN ('pending', 'retrying') \
              AND (concurrency_limit IS NOT NULL OR rate_limit IS NOT NULL) \
              AND run_at <= now() AND name = ANY($6::text[]) \
              AND ($2::text[] IS NULL OR queue = ANY($2::text[])) \
              AND queue NOT IN (SELECT name FROM kiribi_queues) \
        ) AS limited_waiting \
    ) \
    SELECT c.id, c.name, c.queue, c.payload::text AS payload, c.attempts, c.max_attempts, \
           c.interruptions, c.run_at, p.limited_waiting \
    FROM probe AS p LEFT JOIN claimed AS c ON true \
    ORDER BY c.priority DESC, c.run_at, c.id"
);

/// Stores trace contexts: $1 job ids, $2 their `traceparent`s.
pub(crate) const INSERT_TRACES: &str = "\
    INSERT INTO kiribi_job_traces (job_id, traceparent) \
    SELECT * FROM unnest($1::bigint[], $2::text[])";

/// The stored trace contexts of the jobs $1.
pub(crate) const TRACES_OF: &str = "\
    SELECT job_id, traceparent FROM kiribi_job_traces WHERE job_id = ANY($1::bigint[])";

/// Pauses queue $1; changes nothing if it is paused already.
pub(crate) const PAUSE_QUEUE: &str = "\
    INSERT INTO kiribi_queues (name) VALUES ($1) ON CONFLICT DO NOTHING";

/// Resumes queue $1, and announces it on channel $2 (its jobs are news to idle
/// workers). Returns one row if the queue was paused.
pub(crate) const RESUME_QUEUE: &str = "\
    WITH resumed AS (DELETE FROM kiribi_queues WHERE name = $1 RETURNING name) \
    SELECT name, pg_notify($2, '')::text AS notified FROM resumed";

/// The paused queues: name, paused_at.
pub(crate) const PAUSED_QUEUES: &str = "SELECT name, paused_at FROM kiribi_queues";

/// Per queue with unfinished jobs: name, waiting jobs (pending or retrying), running
/// jobs, and how long the longest-waiting due job has waited (µs). Each half is
/// answered by one partial index (ready; running).
pub(crate) const QUEUE_COUNTS: &str = "\
    SELECT queue, count(*) AS waiting, 0::int8 AS running, \
           (EXTRACT(EPOCH FROM now() - min(run_at) FILTER (WHERE run_at <= now())) \
            * 1000000)::int8 AS waited_us \
    FROM kiribi_jobs \
    WHERE status IN ('pending', 'retrying') AND concurrency_limit IS NULL AND rate_limit IS NULL \
    GROUP BY queue \
    UNION ALL \
    SELECT queue, count(*), 0::int8, \
           (EXTRACT(EPOCH FROM now() - min(run_at) FILTER (WHERE run_at <= now())) \
            * 1000000)::int8 \
    FROM kiribi_jobs \
    WHERE status IN ('pending', 'retrying') \
      AND (concurrency_limit IS NOT NULL OR rate_limit IS NOT NULL) \
    GROUP BY queue \
    UNION ALL \
    SELECT queue, 0, count(*), NULL FROM kiribi_jobs WHERE status = 'running' GROUP BY queue";

/// Takes the advisory lock of every group (name and limit key) that has ready
/// limited jobs of the names $1, in the queues $2 (NULL: all) that are not paused,
/// skipping groups whose lock another transaction holds; returns the groups it
/// locked. The locks last until the claim's transaction ends, so a group's limits
/// are counted by one claim at a time, and the claim's next statement sees every
/// earlier claim of the group (committed before this lock was granted).
pub(crate) const LOCK_LIMITED_GROUPS: &str = "\
    SELECT name, limit_key FROM ( \
        SELECT DISTINCT name, limit_key FROM kiribi_jobs \
        WHERE status IN ('pending', 'retrying') \
          AND (concurrency_limit IS NOT NULL OR rate_limit IS NOT NULL) \
          AND run_at <= now() AND name = ANY($1::text[]) \
          AND ($2::text[] IS NULL OR queue = ANY($2::text[])) \
          AND queue NOT IN (SELECT name FROM kiribi_queues) \
    ) AS g \
    WHERE pg_try_advisory_xact_lock(hashtextextended(g.name || chr(31) || g.limit_key, 4262))";

/// Moves up to $4 ready limited jobs of the locked groups ($1 names, $2 limit keys)
/// to `running` in claim order, as many of each group as its limits leave room
/// for: fewer running than `concurrency_limit` counting the ones claimed here, fewer
/// claims in the rate window than `rate_limit`; records the claims of rate-limited
/// jobs and forgets expired ones. $3 queues (NULL: all), $5 lease owner, $6 lease
/// (µs). Jobs held back by their group's limits are passed over, not waited for.
pub(crate) const CLAIM_LIMITED_JOBS: &str = "\
    WITH candidates AS ( \
        SELECT id, name, limit_key, concurrency_limit, rate_limit, priority, run_at, \
               row_number() OVER ( \
                   PARTITION BY name, limit_key ORDER BY priority DESC, run_at, id \
               ) AS rank \
        FROM kiribi_jobs \
        WHERE status IN ('pending', 'retrying') \
          AND (concurrency_limit IS NOT NULL OR rate_limit IS NOT NULL) \
          AND run_at <= now() \
          AND (name, limit_key) IN (SELECT * FROM UNNEST($1::text[], $2::text[])) \
          AND ($3::text[] IS NULL OR queue = ANY($3::text[])) \
          AND queue NOT IN (SELECT name FROM kiribi_queues) \
    ), picked AS ( \
        SELECT c.id FROM candidates AS c \
        WHERE (c.concurrency_limit IS NULL \
               OR (c.rank <= c.concurrency_limit \
                   AND c.rank <= c.concurrency_limit - ( \
                       SELECT count(*) FROM kiribi_jobs AS r \
                       WHERE r.status = 'running' AND r.concurrency_limit IS NOT NULL \
                         AND r.name = c.name AND r.limit_key = c.limit_key))) \
          AND (c.rate_limit IS NULL \
               OR (c.rank <= c.rate_limit \
                   AND c.rank <= c.rate_limit - ( \
                       SELECT count(*) FROM kiribi_rate_starts AS s \
                       WHERE s.name = c.name AND s.limit_key = c.limit_key \
                         AND s.expires_at > now()))) \
        ORDER BY c.priority DESC, c.run_at, c.id \
        LIMIT $4 \
    ), claimed AS ( \
        UPDATE kiribi_jobs AS j \
        SET status = 'running', attempts = j.attempts + 1, started_at = now(), \
            lease_owner = $5, lease_expires_at = now() + $6 * interval '1 microsecond', \
            attempted_by = $5 \
        FROM picked WHERE j.id = picked.id AND j.status IN ('pending', 'retrying') \
        RETURNING j.id, j.name, j.queue, j.payload, j.attempts, j.max_attempts, \
                  j.interruptions, j.priority, j.run_at, j.limit_key, j.rate_limit, \
                  j.rate_period_us \
    ), pruned AS ( \
        DELETE FROM kiribi_rate_starts WHERE expires_at <= now() \
    ), started AS ( \
        INSERT INTO kiribi_rate_starts (name, limit_key, expires_at) \
        SELECT name, limit_key, now() + rate_period_us * interval '1 microsecond' \
        FROM claimed WHERE rate_limit IS NOT NULL \
    ) \
    SELECT id, name, queue, payload::text AS payload, attempts, max_attempts, interruptions, \
     run_at \
    FROM claimed ORDER BY priority DESC, run_at, id";

/// Extends every lease of worker $2 to now + $1 µs.
///
/// Rows another transaction holds are skipped, not waited for: a row of this
/// worker's is only held by its own completion (which is finishing the job) or by
/// a reaper (whose lease already ran out). An `UPDATE` alone waits for them in
/// whatever order its plan visits rows, and deadlocked against the worker's
/// batched completions under load; a renewal that skips can wait for nobody.
/// `NO KEY UPDATE`, the lock its `UPDATE` takes anyway: it leaves the id alone, so
/// it does not skip a job whose log lines are being stored ([`APPEND_LOGS`]'s key
/// checks share the key only).
pub(crate) const RENEW_LEASES: &str = "\
    WITH owned AS ( \
        SELECT id FROM kiribi_jobs WHERE status = 'running' AND lease_owner = $2 \
        FOR NO KEY UPDATE SKIP LOCKED \
    ) \
    UPDATE kiribi_jobs AS j SET lease_expires_at = now() + $1 * interval '1 microsecond' \
    FROM owned WHERE j.id = owned.id";

/// Records a batch of outcomes on their jobs, each fenced by (id, attempt, lease
/// owner), and a record of every attempt that ended in an error; returns the id of
/// every job whose lease held.
///
/// Arrays, one element per completion: $1 ids, $2 attempts, $3 lease owners, $4
/// new statuses, $5 results (JSON text), $6 errors (NULL keeps the job's previous
/// one), $7 next run in µs from now (NULL keeps `run_at`), $8 whether the job is
/// finished, $9 whether the attempt was interrupted, $10 whether it is given back
/// uncharged (a snooze: the attempt count goes down and no record is written). The
/// input is sorted by id. It cannot deadlock: every other statement that locks several jobs skips the rows
/// others hold (claims, renewals, the reaper's pick) or runs after this worker's
/// last completion (its release at shutdown), so none of them waits for a row this
/// statement holds while holding one it waits for.
///
/// A job whose cancel was requested (`cancel_requested`) is not made to wait again:
/// an unfinished outcome is stored as `cancelled`, finished now, charged (see the
/// `Storage` contract). A released attempt puts `started_at` and `attempted_by` back
/// as [`RELEASE_JOBS`] does.
pub(crate) const COMPLETE_JOBS: &str = "\
    WITH input AS ( \
        SELECT * FROM UNNEST($1::int8[], $2::int4[], $3::text[], $4::text[], $5::text[], \
                             $6::text[], $7::int8[], $8::bool[], $9::bool[], $10::bool[]) \
            AS c(id, attempt, owner, status, result, error, delay_us, finished, interrupted, \
                 released) \
        ORDER BY id \
    ), done AS ( \
        UPDATE kiribi_jobs AS j \
        SET status = CASE \
                WHEN j.cancel_requested AND NOT c.finished THEN 'cancelled' \
                WHEN c.released AND j.attempts = 1 THEN 'pending' \
                ELSE c.status END, \
            attempts = j.attempts - (c.released AND NOT j.cancel_requested)::int, \
            started_at = CASE WHEN c.released AND NOT j.cancel_requested \
                THEN (SELECT a.started_at FROM kiribi_attempts AS a \
                      WHERE a.job_id = j.id AND a.attempt = j.attempts - 1) \
                ELSE j.started_at END, \
            attempted_by = CASE WHEN c.released AND NOT j.cancel_requested \
                THEN (SELECT a.worker FROM kiribi_attempts AS a \
                      WHERE a.job_id = j.id AND a.attempt = j.attempts - 1) \
                ELSE j.attempted_by END, \
            result = c.result::jsonb, \
            last_error = COALESCE(c.error, j.last_error), \
            run_at = COALESCE(now() + c.delay_us * interval '1 microsecond', j.run_at), \
            finished_at = CASE WHEN c.finished OR j.cancel_requested THEN now() END, \
            interruptions = j.interruptions + c.interrupted::int, \
            lease_owner = NULL, lease_expires_at = NULL \
        FROM input AS c \
        WHERE j.id = c.id AND j.status = 'running' AND j.attempts = c.attempt \
          AND j.lease_owner IS NOT DISTINCT FROM c.owner \
        RETURNING j.id, j.attempts, j.status, j.attempted_by, j.started_at, j.last_error, \
                  c.attempt \
    ), failed AS ( \
        INSERT INTO kiribi_attempts (job_id, attempt, worker, started_at, finished_at, error) \
        SELECT id, attempts, attempted_by, started_at, now(), last_error FROM done \
        WHERE status <> 'succeeded' AND attempts = attempt \
        ON CONFLICT (job_id, attempt) DO UPDATE \
        SET finished_at = excluded.finished_at, error = excluded.error \
    ) \
    SELECT id FROM done";

/// Records a batch of successes of one worker, the usual batch of a busy worker:
/// three arrays to unpack instead of nine, and no attempt records to write. Fenced,
/// ordered and returning as [`COMPLETE_JOBS`].
///
/// $1 ids, $2 attempts, $3 results (JSON text or null), $4 the lease owner of every
/// job in the batch.
pub(crate) const COMPLETE_SUCCESSES: &str = "\
    WITH input AS ( \
        SELECT * FROM UNNEST($1::int8[], $2::int4[], $3::text[]) AS c(id, attempt, result) \
        ORDER BY id \
    ) \
    UPDATE kiribi_jobs AS j \
    SET status = 'succeeded', result = c.result::jsonb, finished_at = now(), \
        lease_owner = NULL, lease_expires_at = NULL \
    FROM input AS c \
    WHERE j.id = c.id AND j.status = 'running' AND j.attempts = c.attempt \
      AND j.lease_owner = $4 \
    RETURNING j.id";

/// Gives claimed jobs back uncharged, fenced by ($1 ids, $2 attempts, $3 lease
/// owners); one asked to stop ends `cancelled` instead of waiting again. The attempt
/// count, `started_at` and `attempted_by` go back to what they
/// were before the claim (the previous attempt ended in an error, so it has a
/// record). Removes a record of the released attempt, which only an older kiribi
/// (that opened records at the claim) may have left. Locks in id order. Returns one
/// row per job released.
pub(crate) const RELEASE_JOBS: &str = "\
    WITH leases AS ( \
        SELECT * FROM UNNEST($1::int8[], $2::int4[], $3::text[]) AS l(id, attempt, owner) \
    ), held AS ( \
        SELECT j.id, l.attempt FROM kiribi_jobs AS j JOIN leases AS l ON j.id = l.id \
        WHERE j.status = 'running' AND j.attempts = l.attempt \
          AND j.lease_owner IS NOT DISTINCT FROM l.owner \
        ORDER BY j.id FOR UPDATE OF j \
    ), released AS ( \
        UPDATE kiribi_jobs AS j \
        SET attempts = j.attempts - 1, \
            status = CASE WHEN j.cancel_requested THEN 'cancelled' \
                          WHEN j.attempts - 1 = 0 THEN 'pending' ELSE 'retrying' END, \
            finished_at = CASE WHEN j.cancel_requested THEN now() ELSE j.finished_at END, \
            started_at = (SELECT a.started_at FROM kiribi_attempts AS a \
                          WHERE a.job_id = j.id AND a.attempt = j.attempts - 1), \
            attempted_by = (SELECT a.worker FROM kiribi_attempts AS a \
                            WHERE a.job_id = j.id AND a.attempt = j.attempts - 1), \
            lease_owner = NULL, lease_expires_at = NULL \
        FROM held \
        WHERE j.id = held.id \
        RETURNING j.id, held.attempt \
    ), removed AS ( \
        DELETE FROM kiribi_attempts AS a USING released \
        WHERE a.job_id = released.id AND a.attempt = released.attempt \
    ) \
    SELECT id FROM released";

/// Locks and returns every running job whose lease ran out, in id order, for the
/// reaper's transaction to decide on and then complete (`COMPLETE_JOBS`). Rows
/// another transaction holds are skipped, not waited for.
pub(crate) const EXPIRED_LEASES: &str = "\
    SELECT id, attempts, lease_owner, max_attempts, interruptions FROM kiribi_jobs \
    WHERE status = 'running' AND lease_expires_at < now() \
    ORDER BY id \
    FOR UPDATE SKIP LOCKED";

/// One job by $1 id.
pub(crate) const GET_JOB: &str =
    concat!("SELECT ", job_columns!(), " FROM kiribi_jobs WHERE id = $1");

/// The start of a listing; `storage::list` appends only fixed conditions.
pub(crate) const LIST_JOBS: &str = concat!("SELECT ", job_columns!(), " FROM kiribi_jobs");

/// The attempts of job $1, oldest first: the recorded ones, then the latest one from
/// the job row while it runs or once it succeeded (a record of that attempt, left by
/// an older kiribi, gives way to the row).
pub(crate) const LIST_ATTEMPTS: &str = "\
    SELECT a.job_id, a.attempt, a.worker, a.started_at, a.finished_at, a.error \
    FROM kiribi_attempts AS a \
    WHERE a.job_id = $1 AND NOT EXISTS ( \
        SELECT 1 FROM kiribi_jobs AS j \
        WHERE j.id = a.job_id AND j.attempts = a.attempt \
          AND j.status IN ('running', 'succeeded')) \
    UNION ALL \
    SELECT j.id, j.attempts, COALESCE(j.attempted_by, a.worker), j.started_at, \
           CASE WHEN j.status = 'succeeded' THEN j.finished_at END, NULL \
    FROM kiribi_jobs AS j \
    LEFT JOIN kiribi_attempts AS a ON a.job_id = j.id AND a.attempt = j.attempts \
    WHERE j.id = $1 AND j.status IN ('running', 'succeeded') AND j.attempts > 0 \
    ORDER BY 2";

/// Cancels job $1 if it waits, or asks it to stop if it runs: a running job keeps
/// its status and lease, `cancel_requested` is set and its owner is announced on
/// channel $2 (on commit). One statement, so a job that starts or ends meanwhile is
/// seen in one state or the other. Returns one row if the job was cancelled or
/// asked to stop.
pub(crate) const CANCEL_JOB: &str = "\
    WITH changed AS ( \
        UPDATE kiribi_jobs AS j \
        SET status = CASE WHEN j.status = 'running' THEN j.status ELSE 'cancelled' END, \
            finished_at = CASE WHEN j.status = 'running' THEN j.finished_at ELSE now() END, \
            cancel_requested = j.cancel_requested OR j.status = 'running' \
        WHERE j.id = $1 AND j.status IN ('pending', 'retrying', 'running', 'blocked') \
        RETURNING j.status, j.lease_owner \
    ) \
    SELECT status, \
           CASE WHEN status = 'running' \
                THEN pg_notify($2, COALESCE(lease_owner, ''))::text END AS notified \
    FROM changed";

/// The running jobs of lease owner $1 whose cancel was requested, by id: through
/// the status index, over running jobs only.
pub(crate) const CANCEL_REQUESTS: &str = "\
    SELECT id FROM kiribi_jobs \
    WHERE status = 'running' AND lease_owner = $1 AND cancel_requested \
    ORDER BY id";

/// Makes job $1 ready now, with at least one attempt left, and announces it on
/// channel $2 (a job made ready by hand is news to idle workers), unless another job
/// of its name took its unique key meanwhile (which would make two holders). A flow
/// step with dependencies left waits for them again (`blocked`); the trigger
/// `kiribi_flow_step_changed` brings back the steps it cancelled. Returns one row
/// if the job was retried.
/// Makes job $1 due now if it waits for a later time (see `Storage::make_due`),
/// and wakes the listening workers ($2 is the wake-up channel).
pub(crate) const MAKE_DUE: &str = "\
    WITH due AS ( \
        UPDATE kiribi_jobs SET run_at = now() \
        WHERE id = $1 AND status IN ('pending', 'retrying') AND run_at > now() \
        RETURNING id \
    ) \
    SELECT id, pg_notify($2, '')::text AS notified FROM due";

pub(crate) const RETRY_JOB: &str = "\
    WITH retried AS ( \
        UPDATE kiribi_jobs \
        SET status = CASE WHEN deps_left > 0 THEN 'blocked' \
                          WHEN attempts = 0 THEN 'pending' ELSE 'retrying' END, \
            max_attempts = GREATEST(max_attempts, attempts + 1), \
            run_at = now(), finished_at = NULL, cancel_requested = false, \
            cancelled_by = NULL \
        WHERE id = $1 AND status IN ('failed', 'cancelled', 'retrying') \
          AND NOT EXISTS ( \
              SELECT 1 FROM kiribi_jobs AS other \
              WHERE other.name = kiribi_jobs.name \
                AND other.unique_key = kiribi_jobs.unique_key \
                AND other.id <> kiribi_jobs.id \
                AND (other.unique_in_any_state \
                     OR other.status IN ('pending', 'running', 'retrying', 'blocked'))) \
        RETURNING id \
    ) \
    SELECT id, pg_notify($2, '')::text AS notified FROM retried";

/// Deletes job $1 unless it runs; its attempts go with it (`ON DELETE CASCADE`).
pub(crate) const DELETE_JOB: &str = "\
    DELETE FROM kiribi_jobs WHERE id = $1 AND status <> 'running'";

/// Stores log lines of jobs that exist, each once (see the `logs` migration).
///
/// Arrays, one element per line: $1 job ids, $2 attempts, $3 seqs, $4 times, $5
/// levels, $6 messages. Lines of a job that is gone are left out by the `EXISTS`
/// (a foreign key violation would fail the whole batch). The foreign key's checks
/// share-lock the jobs' keys in job id order, which no claim or completion waits
/// for (they lock without touching the key).
pub(crate) const APPEND_LOGS: &str = "\
    INSERT INTO kiribi_logs (job_id, attempt, seq, at, level, message) \
    SELECT l.job_id, l.attempt, l.seq, l.at, l.level, l.message \
    FROM UNNEST($1::int8[], $2::int4[], $3::int4[], $4::timestamptz[], $5::text[], \
                $6::text[]) AS l(job_id, attempt, seq, at, level, message) \
    WHERE EXISTS (SELECT 1 FROM kiribi_jobs AS j WHERE j.id = l.job_id) \
    ORDER BY l.job_id, l.attempt, l.seq \
    ON CONFLICT (job_id, attempt, seq) DO NOTHING";

/// Stores the progress of jobs whose latest attempt reported it; locks in id
/// order, as [`COMPLETE_JOBS`] does.
///
/// Arrays, one element per job: $1 ids, $2 attempts, $3 progress.
pub(crate) const SET_PROGRESS: &str = "\
    WITH input AS ( \
        SELECT * FROM UNNEST($1::int8[], $2::int4[], $3::float4[]) AS p(id, attempt, progress) \
        ORDER BY id \
    ) \
    UPDATE kiribi_jobs AS j SET progress = p.progress \
    FROM input AS p \
    WHERE j.id = p.id AND j.attempts = p.attempt";

/// The log lines of job $1, by attempt then seq: the primary key's order.
pub(crate) const LIST_LOGS: &str = "\
    SELECT job_id, attempt, seq, at, level, message FROM kiribi_logs \
    WHERE job_id = $1 ORDER BY attempt, seq";

/// Serializes migrations of one schema across every process: a transaction-level
/// advisory lock keyed on ($1) the schema name.
pub(crate) const LOCK_MIGRATIONS: &str =
    "SELECT pg_advisory_xact_lock(hashtext('kiribi migrations'), hashtext($1))";

/// Whether schema $1 exists.
pub(crate) const SCHEMA_EXISTS: &str =
    "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)";

/// The table that records applied migrations.
pub(crate) const CREATE_MIGRATIONS_TABLE: &str = "\
    CREATE TABLE IF NOT EXISTS kiribi_migrations ( \
        version     BIGINT      PRIMARY KEY, \
        description TEXT        NOT NULL, \
        applied_at  TIMESTAMPTZ NOT NULL DEFAULT now())";

/// Whether schema $1 has a table of applied migrations.
pub(crate) const MIGRATIONS_TABLE_EXISTS: &str = "\
    SELECT EXISTS (SELECT 1 FROM pg_tables \
                   WHERE schemaname = $1 AND tablename = 'kiribi_migrations')";

/// The versions already applied.
pub(crate) const APPLIED_MIGRATIONS: &str =
    "SELECT version FROM kiribi_migrations ORDER BY version";

/// Records migration $1 ($2 description) as applied now.
pub(crate) const RECORD_MIGRATION: &str =
    "INSERT INTO kiribi_migrations (version, description) VALUES ($1, $2)";

/// `SET search_path` to kiribi's schema first, then `public` (where extensions such
/// as `pgcrypto` usually live). `schema` must be a quoted identifier.
pub(crate) fn set_search_path(schema: &str, local: bool) -> String {
    let scope = if local { "LOCAL " } else { "" };
    format!("SET {scope}search_path TO {schema}, public")
}

/// Every column of `kiribi_schedules`, in the order `row::decode_schedule` reads them.
macro_rules! schedule_columns {
    () => {
        "name, job_name, cron, timezone, payload::text AS payload, queue, priority, \
         max_attempts, paused, next_run_at, last_run_at, last_job_id, created_at, updated_at"
    };
}

/// Inserts schedule $1 or updates the one of that name (see
/// `Storage::upsert_schedule`): the next tick stays unless the cron or the time zone
/// changed or the update resumes the schedule.
///
/// $1 name, $2 job name, $3 cron, $4 time zone, $5 payload (JSON text), $6 queue,
/// $7 priority, $8 max_attempts, $9 paused (NULL: keep), $10 next_run_at.
pub(crate) const UPSERT_SCHEDULE: &str = concat!(
    "INSERT INTO kiribi_schedules AS s (name, job_name, cron, timezone, payload, queue, \
                                        priority, max_attempts, paused, next_run_at, \
                                        created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, COALESCE($9::bool, false), $10, now(), \
             now()) \
     ON CONFLICT (name) DO UPDATE SET \
         job_name = excluded.job_name, cron = excluded.cron, timezone = excluded.timezone, \
         payload = excluded.payload, queue = excluded.queue, priority = excluded.priority, \
         max_attempts = excluded.max_attempts, \
         paused = COALESCE($9::bool, s.paused), \
         next_run_at = CASE \
             WHEN s.cron = excluded.cron AND s.timezone = excluded.timezone \
              AND NOT (s.paused AND $9::bool IS NOT DISTINCT FROM false) \
             THEN s.next_run_at ELSE excluded.next_run_at END, \
         updated_at = now() \
     RETURNING ",
    schedule_columns!()
);

/// Every schedule, by name.
pub(crate) const LIST_SCHEDULES: &str = concat!(
    "SELECT ",
    schedule_columns!(),
    " FROM kiribi_schedules ORDER BY name"
);

/// Deletes schedule $1.
pub(crate) const DELETE_SCHEDULE: &str = "DELETE FROM kiribi_schedules WHERE name = $1";

/// Pauses or resumes schedule $1 ($2); $3 the next tick or NULL (keep).
pub(crate) const SET_SCHEDULE_PAUSED: &str = "\
    UPDATE kiribi_schedules \
    SET paused = $2, next_run_at = COALESCE($3, next_run_at), updated_at = now() \
    WHERE name = $1";

/// The compare-and-set of a due tick: moves schedule $1's next tick from $2 to $4
/// and records tick $3, only if $2 is still its next tick and it is not paused. A
/// concurrent caller waits for this row's lock, then finds `next_run_at` moved and
/// changes nothing.
pub(crate) const ADVANCE_SCHEDULE: &str = "\
    UPDATE kiribi_schedules SET next_run_at = $4, last_run_at = $3 \
    WHERE name = $1 AND next_run_at = $2 AND NOT paused";

/// Whether schedule $1 exists, for a run by hand.
pub(crate) const SCHEDULE_EXISTS: &str =
    "SELECT EXISTS (SELECT 1 FROM kiribi_schedules WHERE name = $1)";

/// Marks job $1 as enqueued by schedule $2 for tick $3 (NULL for a run by hand).
pub(crate) const MARK_SCHEDULED_JOB: &str = "\
    UPDATE kiribi_jobs SET schedule = $2, schedule_tick = $3 WHERE id = $1";

/// Records job $2 as schedule $1's last.
pub(crate) const RECORD_LAST_JOB: &str =
    "UPDATE kiribi_schedules SET last_job_id = $2 WHERE name = $1";

/// The trigram operator classes of the search indexes.
pub(crate) const CREATE_TRIGRAM_EXTENSION: &str = "CREATE EXTENSION IF NOT EXISTS pg_trgm";

/// The search indexes (see `Storage::create_search_indexes`): name, then what
/// follows `ON kiribi_jobs`. The text filter's `LIKE` on `payload::text` and
/// `last_error` is what the two GIN indexes serve.
pub(crate) const SEARCH_INDEXES: [(&str, &str); 3] = [
    (
        "kiribi_jobs_payload_text",
        "USING gin ((payload::text) gin_trgm_ops)",
    ),
    (
        "kiribi_jobs_error_text",
        "USING gin (last_error gin_trgm_ops)",
    ),
    ("kiribi_jobs_created", "(created_at)"),
];

/// The search indexes that an interrupted `CREATE INDEX CONCURRENTLY` left
/// invalid, in the schema of `kiribi_jobs`.
pub(crate) const INVALID_SEARCH_INDEXES: &str = "\
    SELECT c.relname::text FROM pg_index AS i \
    JOIN pg_class AS c ON c.oid = i.indexrelid \
    WHERE i.indrelid = 'kiribi_jobs'::regclass AND NOT i.indisvalid \
      AND c.relname IN ('kiribi_jobs_payload_text', 'kiribi_jobs_error_text', 'kiribi_jobs_created')";

pub(crate) mod flow;
pub(crate) mod rollup;

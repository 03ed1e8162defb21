//! The SQL of flows: inserting a flow, reading flows back, cancelling one. The
//! statements that move a flow along are the triggers of the `flows` migration.

/// Inserts flow $1 and returns its id.
pub(crate) const INSERT_FLOW: &str = "INSERT INTO kiribi_flows (name) VALUES ($1) RETURNING id";

/// Inserts the steps of flow $1 in one statement and returns their ids, drawn in
/// input order as [`INSERT_JOBS`](super::INSERT_JOBS) draws them: `blocked` while a step has
/// dependencies, else `pending`.
///
/// Arrays, one element per step: $2 names, $3 queues, $4 priorities, $5
/// max_attempts, $6 payloads (JSON text), $7 delays (µs), $8 run_at (NULL: now +
/// delay), $9 limit keys, $10 concurrency limits, $11 rate limits, $12 rate periods
/// (µs), $13 step names, $14 numbers of dependencies.
pub(crate) const INSERT_FLOW_STEPS: &str = "\
    INSERT INTO kiribi_jobs (name, queue, status, priority, max_attempts, payload, \
                             created_at, run_at, limit_key, concurrency_limit, rate_limit, \
                             rate_period_us, flow_id, flow_step, deps_left) \
    SELECT name, queue, CASE WHEN deps > 0 THEN 'blocked' ELSE 'pending' END, priority, \
           max_attempts, payload::jsonb, now(), \
           COALESCE(run_at, now() + delay_us * interval '1 microsecond'), limit_key, \
           concurrency_limit, rate_limit, rate_period_us, $1, step, deps \
    FROM UNNEST($2::text[], $3::text[], $4::int4[], $5::int4[], $6::text[], $7::int8[], \
                $8::timestamptz[], $9::text[], $10::int4[], $11::int4[], $12::int8[], \
                $13::text[], $14::int4[]) \
        WITH ORDINALITY AS t(name, queue, priority, max_attempts, payload, delay_us, run_at, \
                             limit_key, concurrency_limit, rate_limit, rate_period_us, step, \
                             deps, ord) \
    ORDER BY ord \
    RETURNING id";

/// Records dependencies: $1 job ids, $2 the ids of the jobs they wait for.
pub(crate) const INSERT_JOB_DEPS: &str = "\
    INSERT INTO kiribi_job_deps (job_id, depends_on) SELECT * FROM UNNEST($1::int8[], $2::int8[])";

/// A flow's status from its steps' statuses, the rules of `FlowStatus` in SQL;
/// `$flow` is the flow's id expression.
macro_rules! flow_status {
    ($flow:literal) => {
        concat!(
            "(SELECT CASE \
                 WHEN bool_or(s.status IN ('pending', 'running', 'retrying')) THEN 'running' \
                 WHEN bool_or(s.status = 'failed') THEN 'failed' \
                 WHEN bool_or(s.status = 'cancelled') THEN 'cancelled' \
                 WHEN bool_or(s.status = 'blocked') THEN 'running' \
                 ELSE 'succeeded' END \
             FROM kiribi_jobs AS s WHERE s.flow_id = ",
            $flow,
            ")"
        )
    };
}

/// Flow $1: id, name, created_at.
pub(crate) const GET_FLOW: &str = "SELECT id, name, created_at FROM kiribi_flows WHERE id = $1";

/// Up to $2 flows with ids below $3 (NULL: any), newest first, whose status (derived
/// from their steps) is $1, or any when $1 is NULL: id, name, created_at.
pub(crate) const LIST_FLOWS: &str = concat!(
    "SELECT f.id, f.name, f.created_at FROM kiribi_flows AS f \
     WHERE ($3::int8 IS NULL OR f.id < $3::int8) AND ($1::text IS NULL OR ",
    flow_status!("f.id"),
    " = $1::text) ORDER BY f.id DESC LIMIT $2"
);

/// Every step of the flows $1 (ids), with every job column.
pub(crate) const FLOW_STEPS: &str = concat!(
    "SELECT ",
    job_columns!(),
    " FROM kiribi_jobs WHERE flow_id = ANY($1::int8[])"
);

/// Every dependency of the steps of the flows $1 (ids): job id, the id of the job it
/// waits for.
pub(crate) const FLOW_DEPS: &str = "\
    SELECT d.job_id, d.depends_on \
    FROM kiribi_jobs AS j JOIN kiribi_job_deps AS d ON d.job_id = j.id \
    WHERE j.flow_id = ANY($1::int8[])";

/// The jobs job $1 waits for, by id, with every job column.
pub(crate) const STEP_DEPENDENCIES: &str = concat!(
    "SELECT ",
    job_columns!(),
    " FROM kiribi_jobs \
     WHERE id IN (SELECT depends_on FROM kiribi_job_deps WHERE job_id = $1) ORDER BY id"
);

/// Cancels the unfinished steps of flow $1 as [`CANCEL_JOB`](super::CANCEL_JOB) cancels one job, locking
/// them in id order: waiting ones become `cancelled`, running ones are asked to stop
/// and their owners announced on channel $2. One row per step changed.
pub(crate) const CANCEL_FLOW: &str = "\
    WITH steps AS ( \
        SELECT id FROM kiribi_jobs \
        WHERE flow_id = $1 AND status IN ('blocked', 'pending', 'retrying', 'running') \
        ORDER BY id FOR UPDATE \
    ), changed AS ( \
        UPDATE kiribi_jobs AS j \
        SET status = CASE WHEN j.status = 'running' THEN j.status ELSE 'cancelled' END, \
            finished_at = CASE WHEN j.status = 'running' THEN j.finished_at ELSE now() END, \
            cancel_requested = j.cancel_requested OR j.status = 'running' \
        FROM steps WHERE j.id = steps.id \
        RETURNING j.status, j.lease_owner \
    ) \
    SELECT status, \
           CASE WHEN status = 'running' \
                THEN pg_notify($2, COALESCE(lease_owner, ''))::text END AS notified \
    FROM changed";

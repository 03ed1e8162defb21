//! The SQL of flows: inserting a flow, reading flows back, cancelling one. The
//! statements that move a flow along are the triggers of the `flows` migration.

/// Inserts flow ?1 created at ?2.
pub(crate) const INSERT_FLOW: &str = "INSERT INTO kiribi_flows (name, created_at) VALUES (?1, ?2)";

/// Inserts one flow step: `blocked` while it has dependencies (?14 > 0), else
/// `pending`. ?1 name, ?2 queue, ?3 priority, ?4 max_attempts, ?5 payload, ?6
/// created_at, ?7 run_at, ?8 limit key, ?9 concurrency limit or NULL, ?10 rate limit
/// or NULL, ?11 rate period (ms) or NULL, ?12 flow id, ?13 step name, ?14 its number
/// of dependencies.
pub(crate) const INSERT_FLOW_STEP: &str = concat!(
    "INSERT INTO kiribi_jobs \
     (id, name, queue, status, priority, max_attempts, payload, created_at, run_at, \
      limit_key, concurrency_limit, rate_limit, rate_period_ms, flow_id, flow_step, deps_left) \
     VALUES (",
    highest_id!(),
    " + 1, ?1, ?2, CASE WHEN ?14 > 0 THEN 'blocked' ELSE 'pending' END, ?3, ?4, ?5, ?6, ?7, \
      ?8, ?9, ?10, ?11, ?12, ?13, ?14)"
);

/// Records dependencies: ?1 a JSON array of `[job id, id of the job it waits for]`.
pub(crate) const INSERT_JOB_DEPS: &str = "\
    INSERT INTO kiribi_job_deps (job_id, depends_on) \
    SELECT value ->> 0, value ->> 1 FROM json_each(?1)";

/// The predicate of the partial index `kiribi_jobs_by_flow`, for a query to spell
/// out next to its own `flow_id = …` (SQLite uses a partial index only for a query
/// that implies its predicate; see `by_status_predicate!`).
macro_rules! by_flow_predicate {
    () => {
        "flow_id IS NOT NULL"
    };
}

/// A flow's status from its steps' statuses, the rules of `FlowStatus` in SQL;
/// `$flow` is the flow's id expression.
macro_rules! flow_status {
    ($flow:literal) => {
        concat!(
            "(SELECT CASE \
                 WHEN max(s.status IN ('pending', 'running', 'retrying')) = 1 THEN 'running' \
                 WHEN max(s.status = 'failed') = 1 THEN 'failed' \
                 WHEN max(s.status = 'cancelled') = 1 THEN 'cancelled' \
                 WHEN max(s.status = 'blocked') = 1 THEN 'running' \
                 ELSE 'succeeded' END \
             FROM kiribi_jobs AS s INDEXED BY kiribi_jobs_by_flow \
             WHERE s.flow_id = ",
            $flow,
            " AND s.",
            by_flow_predicate!(),
            ")"
        )
    };
}

/// Flow ?1: id, name, created_at.
pub(crate) const GET_FLOW: &str = "SELECT id, name, created_at FROM kiribi_flows WHERE id = ?1";

/// Up to ?2 flows with ids below ?3 (NULL: any), newest first, whose status (derived
/// from their steps) is ?1, or any when ?1 is NULL: id, name, created_at.
pub(crate) const LIST_FLOWS: &str = concat!(
    "SELECT f.id, f.name, f.created_at FROM kiribi_flows AS f \
     WHERE (?3 IS NULL OR f.id < ?3) AND (?1 IS NULL OR ",
    flow_status!("f.id"),
    " = ?1) ORDER BY f.id DESC LIMIT ?2"
);

/// Every step of the flows ?1 (a JSON array of ids), with every job column.
pub(crate) const FLOW_STEPS: &str = concat!(
    "SELECT ",
    job_columns!(),
    " FROM kiribi_jobs INDEXED BY kiribi_jobs_by_flow \
     WHERE flow_id IN (SELECT value FROM json_each(?1)) AND ",
    by_flow_predicate!()
);

/// Every dependency of the steps of the flows ?1 (a JSON array of ids): job id, the
/// id of the job it waits for.
pub(crate) const FLOW_DEPS: &str = concat!(
    "SELECT d.job_id, d.depends_on \
     FROM kiribi_jobs AS j INDEXED BY kiribi_jobs_by_flow \
     JOIN kiribi_job_deps AS d ON d.job_id = j.id \
     WHERE j.flow_id IN (SELECT value FROM json_each(?1)) AND j.",
    by_flow_predicate!()
);

/// The jobs job ?1 waits for, by id, with every job column.
pub(crate) const STEP_DEPENDENCIES: &str = concat!(
    "SELECT ",
    job_columns!(),
    " FROM kiribi_jobs \
     WHERE id IN (SELECT depends_on FROM kiribi_job_deps WHERE job_id = ?1) ORDER BY id"
);

/// Asks the running steps of flow ?1 to stop (see [`CANCEL_JOB`](super::CANCEL_JOB)).
pub(crate) const CANCEL_FLOW_RUNNING: &str = concat!(
    "UPDATE kiribi_jobs INDEXED BY kiribi_jobs_by_flow SET cancel_requested = 1 \
     WHERE flow_id = ?1 AND ",
    by_flow_predicate!(),
    " AND status = 'running' AND cancel_requested = 0"
);

/// The waiting steps of flow ?1, dependents first (highest id first: a dependency's
/// id is below its dependents').
pub(crate) const WAITING_FLOW_STEPS: &str = concat!(
    "SELECT id FROM kiribi_jobs INDEXED BY kiribi_jobs_by_flow \
     WHERE flow_id = ?1 AND ",
    by_flow_predicate!(),
    " AND status IN ('blocked', 'pending', 'retrying') ORDER BY id DESC"
);

/// Cancels waiting step ?1 at ?2 (now), as a flow's cancel does: taken dependents
/// first, each finds no blocked dependent left for the trigger
/// `kiribi_flow_step_changed` to cancel in its name, as when PostgreSQL cancels the
/// flow's steps in one statement.
pub(crate) const CANCEL_FLOW_STEP: &str = "\
    UPDATE kiribi_jobs SET status = 'cancelled', finished_at = ?2, last_error = last_error \
    WHERE id = ?1 AND status IN ('blocked', 'pending', 'retrying')";

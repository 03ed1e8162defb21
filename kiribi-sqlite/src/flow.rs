//! Flows on SQLite: inserting a flow's steps and dependencies, reading flows back,
//! cancelling one. Unblocking and cancelling dependents is the trigger
//! `kiribi_flow_step_changed`'s (see the `flows` migration), inside whatever
//! statement changes a step's status.

use std::collections::HashMap;

use kiribi_core::backend::{NewFlow, PlannedStep, flow_record};
use kiribi_core::{Error, FlowFilter, FlowId, FlowRecord, JobId, JobRecord};
use sqlx::{Connection, Row, SqliteConnection};

use crate::enqueue::run_at;
use crate::error::storage_error;
use crate::row::{self, duration_ms, now_ms, time_of};
use crate::sql::flow as sql;

/// Inserts every step of `flow` and its dependencies through a caller's connection
/// or transaction, in one transaction (a savepoint if `conn` is already in one),
/// and returns the new flow's id: the flow exists iff the caller's transaction
/// commits.
///
/// # Examples
///
/// ```
/// use kiribi_core::backend::{NewFlow, NewFlowStep, NewJob};
/// use kiribi_sqlite::{SqliteStorage, enqueue_flow_on};
/// use sqlx::Connection;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let dir = tempfile::tempdir()?;
/// let storage = SqliteStorage::connect(&format!("sqlite://{}/jobs.db", dir.path().display())).await?;
///
/// let job = |name: &str| NewJob::new(name, serde_json::json!({ "user_id": 7 }));
/// let flow = NewFlow::new("onboard user 7")
///     .with_step(NewFlowStep::new("fetch", job("fetch_user")))
///     .with_step(NewFlowStep::new("welcome", job("send_welcome")).with_depends_on(["fetch"]));
/// let mut tx = storage.pool().begin_with("BEGIN IMMEDIATE").await?;
/// let id = enqueue_flow_on(&mut tx, &flow).await?;
/// tx.commit().await?;
/// # let _ = id;
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// [`Error::InvalidFlow`] for a flow that [`NewFlow::plan`] refuses, before
/// anything is written; [`Error::Storage`] if SQLite fails, and nothing of the flow
/// is inserted then.
pub async fn enqueue_flow_on(conn: &mut SqliteConnection, flow: &NewFlow) -> Result<FlowId, Error> {
    let plan = flow.plan()?;
    insert_flow(conn, flow, &plan).await.map_err(storage_error)
}

/// Inserts `flow`, its steps in the order of its `plan`, in one transaction.
pub(crate) async fn insert_flow(
    conn: &mut SqliteConnection,
    flow: &NewFlow,
    plan: &[PlannedStep<'_>],
) -> Result<FlowId, sqlx::Error> {
    let now = now_ms();
    let mut tx = if conn.is_in_transaction() {
        conn.begin().await?
    } else {
        conn.begin_with("BEGIN IMMEDIATE").await?
    };
    let flow_id = sqlx::query(sql::INSERT_FLOW)
        .bind(flow.name.as_str())
        .bind(now)
        .execute(&mut *tx)
        .await?
        .last_insert_rowid();
    // One statement per step: SQLite runs them in this process, without a round
    // trip over a network, and a dependency's id is known before its dependents'.
    let mut ids = Vec::with_capacity(plan.len());
    let mut edges = Vec::new();
    for planned in plan {
        let job = &planned.step.job;
        let limits = job.limits.as_ref();
        let id = sqlx::query(sql::INSERT_FLOW_STEP)
            .bind(job.name.as_str())
            .bind(job.queue.as_str())
            .bind(job.priority)
            .bind(i64::from(job.max_attempts))
            .bind(job.payload.to_string())
            .bind(now)
            .bind(run_at(job, now))
            .bind(limits.map_or("", |limits| limits.key.as_str()))
            .bind(limits.and_then(|limits| limits.concurrency).map(i64::from))
            .bind(
                limits
                    .and_then(|limits| limits.rate)
                    .map(|rate| i64::from(rate.count)),
            )
            .bind(
                limits
                    .and_then(|limits| limits.rate)
                    .map(|rate| duration_ms(rate.period)),
            )
            .bind(flow_id)
            .bind(planned.step.name.as_str())
            .bind(i64::try_from(planned.depends_on.len()).unwrap_or(i64::MAX))
            .execute(&mut *tx)
            .await?
            .last_insert_rowid();
        for &dep in &planned.depends_on {
            edges.push([id, ids[dep]]);
        }
        ids.push(id);
    }
    // Dependencies in statements of a bounded size (two values per edge).
    for chunk in edges.chunks(10_000) {
        sqlx::query(sql::INSERT_JOB_DEPS)
            .bind(serde_json::to_string(chunk).unwrap_or_default())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(FlowId::from_i64(flow_id))
}

/// Flow `id` with every step, or `None`.
pub(crate) async fn get(
    conn: &mut SqliteConnection,
    id: FlowId,
) -> Result<Option<FlowRecord>, sqlx::Error> {
    let mut tx = conn.begin().await?;
    let header = sqlx::query(sql::GET_FLOW)
        .bind(id.as_i64())
        .fetch_optional(&mut *tx)
        .await?;
    let flows = match header {
        Some(header) => with_steps(&mut tx, vec![decode_header(&header)?]).await?,
        None => Vec::new(),
    };
    tx.commit().await?;
    Ok(flows.into_iter().next())
}

/// The flows `filter` selects, newest first, with every step.
pub(crate) async fn list(
    conn: &mut SqliteConnection,
    filter: &FlowFilter,
) -> Result<Vec<FlowRecord>, sqlx::Error> {
    let mut tx = conn.begin().await?;
    let headers = sqlx::query(sql::LIST_FLOWS)
        .bind(filter.get_status().map(|status| status.as_str()))
        .bind(i64::try_from(filter.get_limit()).unwrap_or(i64::MAX))
        .bind(filter.get_before().map(FlowId::as_i64))
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(decode_header)
        .collect::<Result<Vec<_>, _>>()?;
    let flows = with_steps(&mut tx, headers).await?;
    tx.commit().await?;
    Ok(flows)
}

/// A flow's id, name and creation time.
type Header = (FlowId, String, chrono::DateTime<chrono::Utc>);

fn decode_header(row: &sqlx::sqlite::SqliteRow) -> Result<Header, sqlx::Error> {
    Ok((
        FlowId::from_i64(row.try_get("id")?),
        row.try_get("name")?,
        time_of(row.try_get("created_at")?),
    ))
}

/// The flows of `headers`, in their order, with their steps and dependencies read in
/// two statements.
async fn with_steps(
    conn: &mut SqliteConnection,
    headers: Vec<Header>,
) -> Result<Vec<FlowRecord>, sqlx::Error> {
    if headers.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = headers.iter().map(|(id, _, _)| id.as_i64()).collect();
    let ids = serde_json::to_string(&ids).unwrap_or_default();
    let mut steps: HashMap<FlowId, Vec<JobRecord>> = HashMap::new();
    for row in sqlx::query(sql::FLOW_STEPS)
        .bind(ids.as_str())
        .fetch_all(&mut *conn)
        .await?
    {
        let job = row::decode_job(&row)?;
        if let Some(flow) = job.flow {
            steps.entry(flow).or_default().push(job);
        }
    }
    let edges: Vec<(JobId, JobId)> = sqlx::query_as::<_, (i64, i64)>(sql::FLOW_DEPS)
        .bind(ids.as_str())
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(|(job, on)| (JobId::from_i64(job), JobId::from_i64(on)))
        .collect();
    Ok(headers
        .into_iter()
        .map(|(id, name, created_at)| {
            let jobs = steps.remove(&id).unwrap_or_default();
            flow_record(id, name, created_at, jobs, &edges)
        })
        .collect())
}

/// Cancels flow `id`'s unfinished steps in one write transaction; how many it
/// cancelled or asked to stop.
pub(crate) async fn cancel(conn: &mut SqliteConnection, id: FlowId) -> Result<u64, sqlx::Error> {
    let now = now_ms();
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    let mut changed = sqlx::query(sql::CANCEL_FLOW_RUNNING)
        .bind(id.as_i64())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    // One statement per step, dependents first (see `sql::CANCEL_FLOW_STEP`): a
    // flow's cancel is rare, and SQLite runs them in this process.
    let waiting: Vec<i64> = sqlx::query_scalar(sql::WAITING_FLOW_STEPS)
        .bind(id.as_i64())
        .fetch_all(&mut *tx)
        .await?;
    for step in waiting {
        changed += sqlx::query(sql::CANCEL_FLOW_STEP)
            .bind(step)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    }
    tx.commit().await?;
    Ok(changed)
}

/// The jobs job `id` waits for, by id.
pub(crate) async fn dependencies(
    conn: &mut SqliteConnection,
    id: JobId,
) -> Result<Vec<JobRecord>, sqlx::Error> {
    sqlx::query(sql::STEP_DEPENDENCIES)
        .bind(id.as_i64())
        .fetch_all(&mut *conn)
        .await?
        .iter()
        .map(row::decode_job)
        .collect()
}

//! Flows on PostgreSQL: inserting a flow's steps and dependencies, reading flows
//! back, cancelling one. Unblocking and cancelling dependents is the trigger
//! `kiribi_flow_step_changed`'s (see the `flows` migration), inside whatever
//! statement changes a step's status.

use std::collections::HashMap;

use kiribi_core::backend::{NewFlow, PlannedStep, flow_record};
use kiribi_core::{Error, FlowFilter, FlowId, FlowRecord, JobId, JobRecord};
use sqlx::{Connection, PgConnection, Row};

use crate::error::storage_error;
use crate::row::{self, int_column, micros};
use crate::sql::flow as sql;

/// Inserts every step of `flow` and its dependencies through a caller's connection
/// or transaction, in one transaction (a savepoint if `conn` is already in one),
/// and returns the new flow's id: the flow exists iff the caller's transaction
/// commits, and listening workers are woken when it does. Kiribi's tables are found
/// through the connection's `search_path`, as for [`enqueue_on`](crate::enqueue_on).
///
/// # Examples
///
/// ```no_run
/// use kiribi_core::backend::{NewFlow, NewFlowStep, NewJob};
/// use kiribi_postgres::{PgStorage, enqueue_flow_on};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let storage = PgStorage::connect("postgres://postgres@localhost/app").await?;
/// let job = |name: &str| NewJob::new(name, serde_json::json!({ "user_id": 7 }));
/// let flow = NewFlow::new("onboard user 7")
///     .with_step(NewFlowStep::new("fetch", job("fetch_user")))
///     .with_step(NewFlowStep::new("welcome", job("send_welcome")).with_depends_on(["fetch"]));
/// let mut tx = storage.pool().begin().await?;
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
/// anything is written; [`Error::Storage`] if PostgreSQL fails, and nothing of the
/// flow is inserted then.
pub async fn enqueue_flow_on(conn: &mut PgConnection, flow: &NewFlow) -> Result<FlowId, Error> {
    let plan = flow.plan()?;
    insert_flow(conn, flow, &plan).await.map_err(storage_error)
}

/// Inserts `flow`, its steps in the order of its `plan`: three statements in one
/// transaction (the flow, its steps, their dependencies).
pub(crate) async fn insert_flow(
    conn: &mut PgConnection,
    flow: &NewFlow,
    plan: &[PlannedStep<'_>],
) -> Result<FlowId, sqlx::Error> {
    let count = plan.len();
    let mut names = Vec::with_capacity(count);
    let mut queues = Vec::with_capacity(count);
    let mut priorities = Vec::with_capacity(count);
    let mut max_attempts = Vec::with_capacity(count);
    let mut payloads = Vec::with_capacity(count);
    let mut delays = Vec::with_capacity(count);
    let mut run_ats = Vec::with_capacity(count);
    let mut limit_keys = Vec::with_capacity(count);
    let mut concurrency = Vec::with_capacity(count);
    let mut rates = Vec::with_capacity(count);
    let mut periods = Vec::with_capacity(count);
    let mut steps = Vec::with_capacity(count);
    let mut deps = Vec::with_capacity(count);
    for planned in plan {
        let job = &planned.step.job;
        let limits = job.limits.as_ref();
        let rate = limits.and_then(|limits| limits.rate);
        names.push(job.name.as_str());
        queues.push(job.queue.as_str());
        priorities.push(job.priority);
        max_attempts.push(int_column(job.max_attempts));
        payloads.push(job.payload.to_string());
        delays.push(micros(job.delay));
        run_ats.push(job.run_at);
        limit_keys.push(limits.map_or("", |limits| limits.key.as_str()));
        concurrency.push(limits.and_then(|limits| limits.concurrency).map(int_column));
        rates.push(rate.map(|rate| int_column(rate.count)));
        periods.push(rate.map(|rate| micros(rate.period)));
        steps.push(planned.step.name.as_str());
        deps.push(i32::try_from(planned.depends_on.len()).unwrap_or(i32::MAX));
    }
    let mut tx = conn.begin().await?;
    let flow_id: i64 = sqlx::query_scalar(sql::INSERT_FLOW)
        .bind(flow.name.as_str())
        .fetch_one(&mut *tx)
        .await?;
    let mut ids: Vec<i64> = sqlx::query_scalar(sql::INSERT_FLOW_STEPS)
        .bind(flow_id)
        .bind(names)
        .bind(queues)
        .bind(priorities)
        .bind(max_attempts)
        .bind(payloads)
        .bind(delays)
        .bind(run_ats)
        .bind(limit_keys)
        .bind(concurrency)
        .bind(rates)
        .bind(periods)
        .bind(steps)
        .bind(deps)
        .fetch_all(&mut *tx)
        .await?;
    // Drawn in input order (see the statement): sorted, they are the plan's.
    ids.sort_unstable();
    if ids.len() != count {
        return Err(sqlx::Error::Protocol(format!(
            "inserting {count} flow steps returned {} ids",
            ids.len()
        )));
    }
    let (mut jobs, mut on) = (Vec::new(), Vec::new());
    for (at, planned) in plan.iter().enumerate() {
        for &dep in &planned.depends_on {
            jobs.push(ids[at]);
            on.push(ids[dep]);
        }
    }
    if !jobs.is_empty() {
        sqlx::query(sql::INSERT_JOB_DEPS)
            .bind(jobs)
            .bind(on)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(FlowId::from_i64(flow_id))
}

/// Flow `id` with every step, or `None`; in one transaction, so that the steps are
/// read at one moment.
pub(crate) async fn get(
    conn: &mut PgConnection,
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
    conn: &mut PgConnection,
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

fn decode_header(row: &sqlx::postgres::PgRow) -> Result<Header, sqlx::Error> {
    Ok((
        FlowId::from_i64(row.try_get("id")?),
        row.try_get("name")?,
        row.try_get("created_at")?,
    ))
}

/// The flows of `headers`, in their order, with their steps and dependencies read in
/// two statements.
async fn with_steps(
    conn: &mut PgConnection,
    headers: Vec<Header>,
) -> Result<Vec<FlowRecord>, sqlx::Error> {
    if headers.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<i64> = headers.iter().map(|(id, _, _)| id.as_i64()).collect();
    let mut steps: HashMap<FlowId, Vec<JobRecord>> = HashMap::new();
    for row in sqlx::query(sql::FLOW_STEPS)
        .bind(&ids)
        .fetch_all(&mut *conn)
        .await?
    {
        let job = row::decode_job(&row)?;
        if let Some(flow) = job.flow {
            steps.entry(flow).or_default().push(job);
        }
    }
    let edges: Vec<(JobId, JobId)> = sqlx::query_as::<_, (i64, i64)>(sql::FLOW_DEPS)
        .bind(&ids)
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

/// Cancels flow `id`'s unfinished steps in one statement; how many it cancelled or
/// asked to stop. Running steps' owners are announced on `cancel_channel`.
pub(crate) async fn cancel(
    conn: &mut PgConnection,
    id: FlowId,
    cancel_channel: &str,
) -> Result<u64, sqlx::Error> {
    let changed = sqlx::query(sql::CANCEL_FLOW)
        .bind(id.as_i64())
        .bind(cancel_channel)
        .fetch_all(&mut *conn)
        .await?
        .len();
    Ok(u64::try_from(changed).unwrap_or(u64::MAX))
}

/// The jobs job `id` waits for, by id.
pub(crate) async fn dependencies(
    conn: &mut PgConnection,
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

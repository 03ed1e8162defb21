//! Listing jobs newest first: the SQL for each filter, every fragment fixed text and
//! every value bound.
//!
//! Each status has its own way in. Succeeded jobs are most of the table, so walking
//! it by id newest first finds them at once; so does a listing by name or queue.
//! Running, retrying, failed and cancelled jobs are in the partial index
//! `kiribi_jobs_by_status`. Pending jobs are in no index ordered by id (a pending
//! entry there would cost every enqueue a page write, see the `two_page_inserts`
//! migration), so they are listed in two steps: the newest [`RECENT_IDS`] ids by
//! the table, where a backlog is, then, if the page is not full yet, the older ones
//! through the ready index, which holds every pending job. That second step reads
//! the row of every ready job older than the newest ids to check its status: about a
//! second for a million of them, the price of an enqueue that writes no status
//! index entry.

use kiribi_core::{JobFilter, JobRecord, JobStatus};
use sqlx::query::Query;
use sqlx::sqlite::SqliteArguments;
use sqlx::{AssertSqlSafe, Connection, Row, Sqlite, SqliteConnection};

use crate::{row, sql};

/// How many of the newest ids a listing of pending or retrying jobs walks in the
/// table before it turns to the ready index: a few milliseconds of rows.
const RECENT_IDS: i64 = 10_000;

/// The jobs `filter` selects, newest first.
pub(crate) async fn list(
    conn: &mut SqliteConnection,
    filter: &JobFilter,
) -> Result<Vec<JobRecord>, sqlx::Error> {
    let limit = i64::try_from(filter.get_limit()).unwrap_or(i64::MAX);
    let criteria = &Criteria::new(conn, filter).await?;
    let status = match filter.get_status() {
        Some(JobStatus::Pending | JobStatus::Retrying) => {
            return list_ready(conn, criteria, limit).await;
        }
        None | Some(JobStatus::Succeeded) => "status = ?",
        // The partial index's predicate, spelled out so that SQLite uses it.
        Some(_) => concat!("status = ? AND ", sql::by_status_predicate!()),
    };
    let text = format!(
        "{} {} ORDER BY id DESC LIMIT ?",
        sql::LIST_JOBS,
        where_clause(criteria, status, None)
    );
    fetch(
        bind(sqlx::query(AssertSqlSafe(text)), criteria, None).bind(limit),
        conn,
    )
    .await
}

/// How many jobs `filter` selects (its limit aside), counted in an index: the
/// ready indexes for pending and retrying jobs, `kiribi_jobs_finished` for
/// succeeded ones, `kiribi_jobs_by_status` for the other statuses.
pub(crate) async fn count(
    conn: &mut SqliteConnection,
    filter: &JobFilter,
) -> Result<u64, sqlx::Error> {
    let statuses: &[&str] = match filter.get_status() {
        Some(JobStatus::Pending | JobStatus::Retrying) => &[
            concat!("status = ? AND ", sql::ready_predicate!()),
            concat!("status = ? AND ", sql::ready_limited_predicate!()),
        ],
        Some(JobStatus::Succeeded) => &["status = ? AND finished_at IS NOT NULL"],
        Some(_) => &[concat!("status = ? AND ", sql::by_status_predicate!())],
        None => &[""],
    };
    let criteria = &Criteria::new(conn, filter).await?;
    let mut total = 0;
    for status in statuses {
        let text = format!(
            "SELECT count(*) FROM kiribi_jobs {}",
            where_clause(criteria, status, None)
        );
        let counted: i64 = bind(sqlx::query(AssertSqlSafe(text)), criteria, None)
            .fetch_one(&mut *conn)
            .await?
            .try_get(0)?;
        total += u64::try_from(counted).unwrap_or(0);
    }
    Ok(total)
}

/// Pending or retrying jobs: the newest ids by the table, then the rest by the
/// ready index, in one read transaction.
async fn list_ready(
    conn: &mut SqliteConnection,
    criteria: &Criteria<'_>,
    limit: i64,
) -> Result<Vec<JobRecord>, sqlx::Error> {
    let filter = criteria.filter;
    let mut tx = conn.begin().await?;
    let next_id: i64 = sqlx::query_scalar("SELECT COALESCE(max(id), 0) + 1 FROM kiribi_jobs")
        .fetch_one(&mut *tx)
        .await?;
    let upper = filter
        .get_before()
        .map_or(next_id, |before| before.as_i64().min(next_id));
    let recent_floor = upper - RECENT_IDS;

    // `NOT INDEXED` keeps SQLite on the id range of the table.
    let recent = format!(
        "{} NOT INDEXED {} ORDER BY id DESC LIMIT ?",
        sql::LIST_JOBS,
        where_clause(criteria, "status = ?", Some("id > ?"))
    );
    let mut jobs = fetch(
        bind(
            sqlx::query(AssertSqlSafe(recent)),
            criteria,
            Some(recent_floor),
        )
        .bind(limit),
        &mut tx,
    )
    .await?;

    let missing = limit - i64::try_from(jobs.len()).unwrap_or(i64::MAX);
    if missing > 0 && recent_floor > 0 {
        // Each ready index (jobs without limits; with limits) gives the ids, reading
        // each row for its status; only the `missing` newest of them are sorted out
        // and their rows returned.
        let mut older = Vec::new();
        for (index, predicate) in [
            (
                "kiribi_jobs_ready",
                concat!("status = ? AND ", sql::ready_predicate!()),
            ),
            (
                "kiribi_jobs_ready_limited",
                concat!("status = ? AND ", sql::ready_limited_predicate!()),
            ),
        ] {
            let text = format!(
                "{} WHERE id IN ( \
                     SELECT id FROM kiribi_jobs INDEXED BY {index} {} \
                     ORDER BY id DESC LIMIT ?) \
                 ORDER BY id DESC",
                sql::LIST_JOBS,
                where_clause(criteria, predicate, Some("id <= ?"))
            );
            older.extend(
                fetch(
                    bind(
                        sqlx::query(AssertSqlSafe(text)),
                        criteria,
                        Some(recent_floor),
                    )
                    .bind(missing),
                    &mut tx,
                )
                .await?,
            );
        }
        older.sort_unstable_by_key(|job| std::cmp::Reverse(job.id));
        older.truncate(usize::try_from(missing).unwrap_or(usize::MAX));
        jobs.extend(older);
    }
    tx.commit().await?;
    Ok(jobs)
}

/// `WHERE` and the conditions the filter sets, in the order [`bind`] binds them:
/// `status` (when the filter has a status), name, queue, the text's phrase for the
/// text index (when [`Criteria`] looks it up there), the text (twice), the time
/// ranges, the paging cursor, then `id_bound` (one bound id).
fn where_clause(criteria: &Criteria<'_>, status: &str, id_bound: Option<&str>) -> String {
    let filter = criteria.filter;
    let mut conditions = Vec::new();
    if filter.get_status().is_some() {
        conditions.push(status);
    }
    if filter.get_name().is_some() {
        conditions.push("name = ?");
    }
    if filter.get_queue().is_some() {
        conditions.push("queue = ?");
    }
    if criteria.text_match.is_some() {
        // The index gives the jobs that hold the text's trigrams in order, and
        // `instr` keeps the exact answer whatever its tokenizer does.
        conditions.push(sql::TEXT_MATCHES);
    }
    if filter.get_text().is_some() {
        conditions.push("(instr(payload, ?) > 0 OR instr(last_error, ?) > 0)");
    }
    let (created, finished) = (filter.get_created(), filter.get_finished());
    if filter.get_status().is_none() && (finished.after.is_some() || finished.before.is_some()) {
        // Only finished jobs have a finish time: spelled out, SQLite walks each
        // status's range of `kiribi_jobs_finished`.
        conditions.push("status IN ('succeeded', 'failed', 'cancelled')");
    }
    for (set, condition) in [
        (created.after, "created_at >= ?"),
        (created.before, "created_at < ?"),
        (finished.after, "finished_at >= ?"),
        (finished.before, "finished_at < ?"),
    ] {
        if set.is_some() {
            conditions.push(condition);
        }
    }
    if filter.get_before().is_some() {
        conditions.push("id < ?");
    }
    conditions.extend(id_bound);
    if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    }
}

/// Binds the values of [`where_clause`]'s conditions.
fn bind<'q>(
    mut query: Query<'q, Sqlite, SqliteArguments>,
    criteria: &'q Criteria<'q>,
    id_bound: Option<i64>,
) -> Query<'q, Sqlite, SqliteArguments> {
    let filter = criteria.filter;
    if let Some(status) = filter.get_status() {
        query = query.bind(status.as_str());
    }
    if let Some(name) = filter.get_name() {
        query = query.bind(name);
    }
    if let Some(queue) = filter.get_queue() {
        query = query.bind(queue);
    }
    if let Some(text_match) = &criteria.text_match {
        query = query.bind(text_match.as_str());
    }
    if let Some(text) = filter.get_text() {
        query = query.bind(text).bind(text);
    }
    let (created, finished) = (filter.get_created(), filter.get_finished());
    for at in [
        created.after,
        created.before,
        finished.after,
        finished.before,
    ]
    .into_iter()
    .flatten()
    {
        query = query.bind(at.timestamp_millis());
    }
    if let Some(before) = filter.get_before() {
        query = query.bind(before.as_i64());
    }
    if let Some(id) = id_bound {
        query = query.bind(id);
    }
    query
}

/// Builds the search indexes unless they are there (see `sql::CREATE_SEARCH_INDEXES`).
pub(crate) async fn create_search_indexes(conn: &mut SqliteConnection) -> Result<(), sqlx::Error> {
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    let exists: bool = sqlx::query_scalar(sql::TEXT_INDEX_EXISTS)
        .fetch_one(&mut *tx)
        .await?;
    if !exists {
        sqlx::raw_sql(sql::CREATE_SEARCH_INDEXES)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await
}

/// A filter, and how its text is looked up: in the text index of
/// `create_search_indexes` (an FTS5 phrase) when there is one and the text is long
/// enough for its trigrams.
pub(crate) struct Criteria<'f> {
    filter: &'f JobFilter,
    text_match: Option<String>,
}

impl<'f> Criteria<'f> {
    async fn new(conn: &mut SqliteConnection, filter: &'f JobFilter) -> Result<Self, sqlx::Error> {
        let text_match = match filter.get_text() {
            Some(text) if text.chars().count() >= 3 => {
                let indexed: bool = sqlx::query_scalar(sql::TEXT_INDEX_EXISTS)
                    .fetch_one(&mut *conn)
                    .await?;
                // One FTS5 phrase: the text in double quotes, its own doubled.
                indexed.then(|| format!("\"{}\"", text.replace('"', "\"\"")))
            }
            _ => None,
        };
        Ok(Self { filter, text_match })
    }
}

async fn fetch(
    query: Query<'_, Sqlite, SqliteArguments>,
    conn: &mut SqliteConnection,
) -> Result<Vec<JobRecord>, sqlx::Error> {
    query
        .fetch_all(conn)
        .await?
        .iter()
        .map(row::decode_job)
        .collect()
}

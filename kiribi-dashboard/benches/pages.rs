//! How fast the dashboard's pages answer with a million jobs in the table, on
//! SQLite and PostgreSQL: the first page of the list, a deep page (by cursor),
//! filtered pages, a job's page and the overview, p50 and p95 over repeated
//! requests through the router (no network).
//!
//! `cargo bench -p kiribi-dashboard --bench pages` (a fresh database per backend;
//! `KIRIBI_BENCH_JOBS` sets how many jobs, `KIRIBI_BENCH_BACKENDS=sqlite` one backend).

#![allow(missing_docs)] // a benchmark binary

use std::time::{Duration, Instant};

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use kiribi::backend::NewJob;
use kiribi::{JobFilter, JobId, Kiribi};
use kiribi_tests::{Backend, TestDb};
use tower::ServiceExt;

const NAMES: [&str; 5] = ["mail", "resize", "report", "sync", "import"];
const QUEUES: [&str; 3] = ["default", "media", "reports"];
const BATCH: usize = 10_000;
const WARMUP: usize = 5;
const RUNS: usize = 50;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let jobs: usize = std::env::var("KIRIBI_BENCH_JOBS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    let backends =
        std::env::var("KIRIBI_BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    for backend in backends.split(',') {
        let backend = match backend.trim() {
            "sqlite" => Backend::Sqlite,
            "postgres" => Backend::Postgres,
            other => panic!("unknown backend `{other}`: sqlite or postgres"),
        };
        run(backend, jobs).await;
    }
}

async fn run(backend: Backend, jobs: usize) {
    let db = TestDb::new(backend).await;
    let kiribi = db.connect().await;
    let started = Instant::now();
    fill(&kiribi, jobs).await;
    println!(
        "\n## {backend:?}: {jobs} jobs, filled in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let newest = kiribi.jobs(JobFilter::new().limit(1)).await.unwrap()[0].id;
    let oldest_page = JobId::from_i64(newest.as_i64() - i64::try_from(jobs).unwrap() + 60);
    let middle = JobId::from_i64(newest.as_i64() - i64::try_from(jobs / 2).unwrap());
    let router = kiribi::dashboard::router(kiribi.clone());
    println!("| page | p50 | p95 |\n|---|---|---|");
    for (label, path) in [
        ("list: first page", "/jobs".to_owned()),
        (
            "list: deepest page (cursor)",
            format!("/jobs?before={oldest_page}"),
        ),
        (
            "list: middle page (cursor)",
            format!("/jobs?before={middle}"),
        ),
        ("list: name filter", "/jobs?name=report".to_owned()),
        (
            "list: name filter, deep",
            format!("/jobs?name=report&before={oldest_page}"),
        ),
        (
            "list: status filter (failed)",
            "/jobs?status=failed".to_owned(),
        ),
        (
            "list: queue + name",
            "/jobs?queue=media&name=resize".to_owned(),
        ),
        (
            "list: created in the last hour",
            "/jobs?created_after=1h".to_owned(),
        ),
        ("job page", format!("/jobs/{middle}")),
        (
            "job page (failed)",
            format!("/jobs/{}", failed_one(&kiribi).await),
        ),
        (
            "list: text in payload (no index)",
            "/jobs?text=user77%40".to_owned(),
        ),
        ("overview (7 counts + stats)", "/".to_owned()),
    ] {
        let (p50, p95) = time(&router, &path).await;
        println!("| {label} | {:.1} ms | {:.1} ms |", ms(p50), ms(p95));
    }
    // The same text search once the opt-in search indexes are built.
    kiribi
        .create_search_indexes()
        .await
        .expect("build the search indexes");
    let (p50, p95) = time(&router, "/jobs?text=user77%40").await;
    println!(
        "| list: text in payload (search indexes) | {:.1} ms | {:.1} ms |",
        ms(p50),
        ms(p95)
    );
}

async fn failed_one(kiribi: &Kiribi) -> JobId {
    let failed = kiribi
        .jobs(JobFilter::new().status(kiribi::JobStatus::Failed).limit(1))
        .await
        .unwrap();
    failed.first().map_or(JobId::from_i64(1), |job| job.id)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn time(router: &axum::Router, path: &str) -> (Duration, Duration) {
    let mut times = Vec::with_capacity(RUNS);
    for run in 0..WARMUP + RUNS {
        let request = Request::get(path).body(Body::empty()).unwrap();
        let started = Instant::now();
        let response = router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let body = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        let took = started.elapsed();
        assert_eq!(
            status,
            StatusCode::OK,
            "{path}: {}",
            String::from_utf8_lossy(&body)
        );
        if run >= WARMUP {
            times.push(took);
        }
    }
    times.sort();
    (times[RUNS / 2], times[RUNS * 95 / 100])
}

/// `jobs` pending jobs through the backend's batch enqueue, then one in 20 made
/// failed and one in 4 succeeded by SQL (the list and detail pages read what any
/// job row has; no worker runs here).
async fn fill(kiribi: &Kiribi, jobs: usize) {
    let mut i = 0usize;
    while i < jobs {
        let batch: Vec<NewJob> = (i..(i + BATCH).min(jobs))
            .map(|n| {
                let mut job = NewJob::new(
                    NAMES[n % NAMES.len()],
                    serde_json::json!({ "user_id": n, "email": format!("user{n}@example.com"), "plan": "pro" }),
                );
                job.queue = QUEUES[n % QUEUES.len()].to_owned();
                job.max_attempts = 3;
                job
            })
            .collect();
        i += batch.len();
        kiribi.storage().enqueue(batch).await.unwrap();
    }
    kiribi_tests::execute_sql(
        kiribi,
        &[
            "UPDATE kiribi_jobs SET status = 'failed', attempts = 3, last_error = 'connection refused (os error 111)' WHERE id % 20 = 0",
            "UPDATE kiribi_jobs SET status = 'succeeded', attempts = 1 WHERE id % 4 = 1",
            "ANALYZE",
        ],
    )
    .await;
}

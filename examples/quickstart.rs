//! The quick start: typed jobs on an embedded SQLite file, run by a worker.
//!
//! `cargo run --example quickstart` enqueues a handful of jobs into
//! `kiribi-quickstart.db` (in the current directory), runs them, and prints what
//! happened to each: one succeeds at once, one fails twice and then succeeds, one
//! times out on every attempt, one waits two seconds before it runs, one is run inline.

use std::time::{Duration, Instant};

use kiribi::{EnqueueOptions, JobContext, JobError, JobFilter, Kiribi, State, job};

/// Application state that jobs receive through `State<Greeter>`.
#[derive(Clone)]
struct Greeter {
    greeting: String,
}

/// Succeeds at once and returns a message built from shared state.
#[job]
async fn send_welcome(
    State(greeter): State<Greeter>,
    user_id: i64,
    email: String,
) -> Result<String, String> {
    Ok(format!("{} user {user_id} <{email}>", greeter.greeting))
}

/// Fails its first two attempts, then succeeds.
#[job(max_attempts = 5, backoff = "fixed", retry_delay = "300ms")]
async fn flaky_charge(ctx: JobContext, cents: u64) -> anyhow::Result<u64> {
    if ctx.attempt() < 3 {
        anyhow::bail!("payment gateway unavailable (attempt {})", ctx.attempt());
    }
    Ok(cents)
}

/// Takes longer than its timeout on every attempt.
#[job(
    timeout = "200ms",
    max_attempts = 2,
    retry_delay = "100ms",
    queue = "media"
)]
async fn resize_image(path: String) -> Result<(), JobError> {
    tokio::time::sleep(Duration::from_secs(5)).await;
    println!("resized {path}");
    Ok(())
}

/// Runs when its delay is over.
#[job(name = "reports.daily", priority = 10)]
async fn daily_report(day: String) -> Result<usize, std::io::Error> {
    Ok(day.len())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let path = std::path::Path::new("kiribi-quickstart.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    let url = format!("sqlite://{}", path.display());

    let kiribi = Kiribi::builder()
        .state(Greeter {
            greeting: "welcome,".into(),
        })
        .connect(&url)
        .await?;
    println!("kiribi: jobs stored in {}\n", path.display());

    let worker = kiribi
        .worker()
        .concurrency(4)
        .poll_interval(Duration::from_millis(100))
        .start();

    SendWelcome::enqueue(
        &kiribi,
        SendWelcome {
            user_id: 7,
            email: "ada@example.com".into(),
        },
    )
    .await?;
    FlakyCharge::enqueue(&kiribi, FlakyCharge { cents: 1999 }).await?;
    ResizeImage::enqueue(
        &kiribi,
        ResizeImage {
            path: "cat.png".into(),
        },
    )
    .await?;
    DailyReport::enqueue_with(
        &kiribi,
        DailyReport {
            day: "2026-11-29".into(),
        },
        EnqueueOptions::new().delay(Duration::from_secs(2)),
    )
    .await?;
    let inline = SendWelcome::run_now(
        &kiribi,
        SendWelcome {
            user_id: 8,
            email: "grace@example.com".into(),
        },
    )
    .await?;
    println!("run_now returned: {inline:?}\n");

    let started = Instant::now();
    loop {
        let jobs = kiribi.jobs(JobFilter::new()).await?;
        if jobs.iter().all(|job| job.status.is_finished()) {
            break;
        }
        if started.elapsed() > Duration::from_secs(30) {
            anyhow::bail!("jobs did not finish within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    worker.shutdown().await?;

    let mut jobs = kiribi.jobs(JobFilter::new()).await?;
    jobs.reverse();
    println!(
        "{:<3} {:<14} {:<8} {:<10} {:<8} {:<9} result / last error",
        "id", "name", "queue", "status", "attempts", "run time"
    );
    for job in jobs {
        let run_time = match (job.started_at, job.finished_at) {
            (Some(start), Some(end)) => format!("{} ms", (end - start).num_milliseconds()),
            _ => "-".into(),
        };
        let outcome = match (&job.result, &job.last_error) {
            (Some(result), _) => result.to_string(),
            (None, Some(error)) => format!("error: {error}"),
            (None, None) => "-".into(),
        };
        println!(
            "{:<3} {:<14} {:<8} {:<10} {:<8} {:<9} {}",
            job.id,
            job.name,
            job.queue,
            job.status,
            format!("{}/{}", job.attempts, job.max_attempts),
            run_time,
            outcome
        );
    }
    Ok(())
}

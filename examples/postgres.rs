//! kiribi on PostgreSQL: many processes (and machines) share one job store.
//!
//! ```sh
//! cargo run --example postgres                                   # the local server
//! DATABASE_URL=postgres://user:pw@host/db cargo run --example postgres
//! ```
//!
//! It enqueues jobs through the handle and inside the application's own transaction,
//! runs them with a worker (woken by LISTEN/NOTIFY, not by polling), and prints what
//! happened. Start it twice at once to watch two workers share the jobs.

use std::time::{Duration, Instant};

use kiribi::{JobContext, JobFilter, JobStatus, Kiribi, job};

/// Pretends to charge a customer; fails once to show a retry.
#[job(
    queue = "billing",
    max_attempts = 3,
    backoff = "fixed",
    retry_delay = "200ms"
)]
async fn charge(ctx: JobContext, customer: i64, cents: u64) -> anyhow::Result<String> {
    if ctx.attempt() == 1 && customer % 2 == 0 {
        anyhow::bail!("card network timeout");
    }
    Ok(format!(
        "charged customer {customer} {cents} cents on attempt {}",
        ctx.attempt()
    ))
}

/// Sends a receipt once the order exists.
#[job]
async fn send_receipt(order_id: i64) -> Result<i64, String> {
    Ok(order_id)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let kiribi = Kiribi::connect(&url).await?;
    println!("kiribi: connected to PostgreSQL");
    let worker = kiribi.worker().concurrency(8).start();

    let started = Instant::now();
    let mut ids = Charge::enqueue_many(
        &kiribi,
        (1..=4).map(|customer| Charge {
            customer,
            cents: 100 * u64::try_from(customer).unwrap_or_default(),
        }),
    )
    .await?;

    // The order row and its receipt job commit together, or not at all.
    let pool = kiribi.pg_pool().expect("a PostgreSQL backend");
    let mut tx = pool.begin().await?;
    kiribi::sqlx::query("CREATE TEMP TABLE IF NOT EXISTS orders (id BIGINT)")
        .execute(&mut *tx)
        .await?;
    kiribi::sqlx::query("INSERT INTO orders (id) VALUES (42)")
        .execute(&mut *tx)
        .await?;
    ids.push(SendReceipt::enqueue(&mut *tx, SendReceipt { order_id: 42 }).await?);
    tx.commit().await?;

    for &id in &ids {
        loop {
            let job = kiribi.job(id).await?.expect("enqueued above");
            if job.status.is_finished() {
                let outcome = job
                    .result
                    .map(|r| r.to_string())
                    .or(job.last_error)
                    .unwrap_or_default();
                println!(
                    "{:>5} {:<13} {:<9} attempts {}  {outcome}",
                    job.id, job.name, job.status, job.attempts
                );
                break;
            }
            anyhow::ensure!(
                started.elapsed() < Duration::from_secs(30),
                "job {id} did not finish in 30 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    worker.shutdown().await?;
    let failed = kiribi
        .jobs(JobFilter::new().status(JobStatus::Failed))
        .await?;
    println!("\n{} failed job(s) in the store", failed.len());
    Ok(())
}

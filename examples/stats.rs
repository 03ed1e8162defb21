//! Statistics over a mixed workload, on an embedded SQLite file.
//!
//! `cargo run --example stats` enqueues a few hundred jobs of three kinds into a
//! temporary SQLite file: quick ones, slow ones, and flaky ones that fail now and
//! then (and are retried). A worker runs them all, then `Kiribi::stats` over the
//! last hour is printed as a table: per job name, the counts, the failure rate,
//! run-time percentiles and wait-time percentiles; then the busiest minutes.

use std::time::Duration;

use kiribi::{JobContext, JobStatus, Kiribi, Percentiles, job};

/// Fast: a few milliseconds.
#[job]
async fn resize_thumbnail(n: u64) -> Result<(), String> {
    tokio::time::sleep(Duration::from_millis(2 + n % 5)).await;
    Ok(())
}

/// Slower, and more spread out: 20 to 120 ms.
#[job]
async fn render_report(n: u64) -> Result<(), String> {
    tokio::time::sleep(Duration::from_millis(20 + (n * 37) % 100)).await;
    Ok(())
}

/// Fails about one attempt in three; gives up after 2 attempts.
#[job(max_attempts = 2, retry_delay = "10ms")]
async fn call_partner_api(ctx: JobContext, n: u64) -> Result<(), String> {
    tokio::time::sleep(Duration::from_millis(5 + n % 10)).await;
    if scramble(n * 10 + u64::from(ctx.attempt())).is_multiple_of(3) {
        return Err("the partner API answered 503".to_owned());
    }
    Ok(())
}

/// A cheap scramble, so that failures do not follow `n`'s order.
fn scramble(n: u64) -> u64 {
    n.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17)
}

fn ms(duration: Option<Duration>) -> String {
    duration.map_or_else(
        || "-".to_owned(),
        |d| format!("{:.1}", d.as_secs_f64() * 1000.0),
    )
}

fn percentiles(p: &Percentiles) -> String {
    format!("{:>7} {:>7} {:>7}", ms(p.p50), ms(p.p95), ms(p.p99))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let path = std::env::temp_dir().join(format!("kiribi-stats-{}.db", std::process::id()));
    let url = format!("sqlite://{}", path.display());
    let kiribi = Kiribi::connect(&url).await?;
    println!("kiribi: jobs stored in {}\n", path.display());

    for n in 0..300 {
        ResizeThumbnail::enqueue(&kiribi, ResizeThumbnail { n }).await?;
    }
    for n in 0..60 {
        RenderReport::enqueue(&kiribi, RenderReport { n }).await?;
        CallPartnerApi::enqueue(&kiribi, CallPartnerApi { n }).await?;
    }
    let worker = kiribi.worker().concurrency(16).start();
    loop {
        let queues = kiribi.queues().await?;
        if queues
            .iter()
            .all(|queue| queue.pending == 0 && queue.running == 0)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    worker.shutdown().await?;

    let stats = kiribi.stats(Duration::from_secs(3600)).await?;
    println!(
        "{:<18} {:>5} {:>5} {:>5} {:>6} | run ms: {:>7} {:>7} {:>7} | wait ms: {:>7} {:>7}",
        "job", "ok", "fail", "retry", "fail%", "p50", "p95", "p99", "p50", "p95"
    );
    for job in &stats.jobs {
        println!(
            "{:<18} {:>5} {:>5} {:>5} {:>5.1}% |         {} |          {:>7} {:>7}",
            job.name,
            job.succeeded,
            job.failed,
            job.retried,
            job.failure_rate * 100.0,
            percentiles(&job.run_time),
            ms(job.wait_time.p50),
            ms(job.wait_time.p95),
        );
    }
    println!("\nminutes with finished jobs:");
    for minute in stats.minutes.iter().filter(|m| m.succeeded + m.failed > 0) {
        println!(
            "  {}  {:>4} succeeded {:>3} failed, run p95 {} ms",
            minute.minute.format("%H:%M"),
            minute.succeeded,
            minute.failed,
            ms(minute.run_time.p95)
        );
    }
    let failed = kiribi
        .count(kiribi::JobFilter::new().status(JobStatus::Failed))
        .await?;
    println!(
        "\n{failed} jobs failed for good; `kiribi.jobs(JobFilter::new().status(JobStatus::Failed))` lists them"
    );
    Ok(())
}

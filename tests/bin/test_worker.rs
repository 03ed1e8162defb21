//! A worker process for kiribi's process-level tests.
//!
//! `kiribi-test-worker <url> <concurrency> <lease-ms>` runs the jobs of
//! `kiribi_tests::jobs` until SIGTERM, then shuts down gracefully.

use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), kiribi::Error> {
    kiribi_tests::jobs::link();
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .expect("usage: kiribi-test-worker <url> <concurrency> <lease-ms>");
    let concurrency: usize = args.next().map_or(8, |a| a.parse().expect("concurrency"));
    let lease_ms: u64 = args.next().map_or(30_000, |a| a.parse().expect("lease-ms"));

    let kiribi = kiribi::Kiribi::connect(&url).await?;
    println!("ready");
    kiribi
        .worker()
        .concurrency(concurrency)
        .lease(Duration::from_millis(lease_ms))
        .poll_interval(Duration::from_millis(50))
        .shutdown_timeout(Duration::from_secs(5))
        .run()
        .await
}

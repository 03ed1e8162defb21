//! A worker process for kiribi's process-level tests.
//!
//! `kiribi-test-worker <url> [<concurrency> [<lease-ms> [<poll-ms> [<prefetch>]]]]`
//! runs the jobs of `kiribi_tests::jobs` until SIGTERM, then shuts down gracefully.
//! Defaults: concurrency 8, lease 30 s, poll 50 ms, kiribi's prefetch. It prints
//! `ready` once connected, and logs to stderr at `RUST_LOG`'s level (warnings when
//! unset; see `kiribi_tests::log`). `KIRIBI_TEST_CANCEL_GRACE_MS` sets its
//! `cancel_grace`.
//!
//! With `KIRIBI_TEST_CRON=<cron>` it first declares the schedule `test.ticks` of
//! the job `test.tick` with that cron, as an app declares its schedules at every
//! start.

use std::time::Duration;

const USAGE: &str =
    "usage: kiribi-test-worker <url> [<concurrency> [<lease-ms> [<poll-ms> [<prefetch>]]]]";

#[tokio::main]
async fn main() -> Result<(), kiribi::Error> {
    kiribi_tests::jobs::link();
    kiribi_tests::log::init();
    let mut args = std::env::args().skip(1);
    let url = args.next().expect(USAGE);
    let concurrency: usize = args.next().map_or(8, |a| a.parse().expect(USAGE));
    let lease_ms: u64 = args.next().map_or(30_000, |a| a.parse().expect(USAGE));
    let poll_ms: u64 = args.next().map_or(50, |a| a.parse().expect(USAGE));
    let prefetch: Option<usize> = args.next().map(|a| a.parse().expect(USAGE));

    let kiribi = kiribi::Kiribi::connect(&url).await?;
    if let Ok(cron) = std::env::var(kiribi_tests::jobs::CRON_ENV) {
        let job = kiribi_tests::jobs::Tick {
            label: "ticks".to_owned(),
        };
        kiribi.schedule("test.ticks", cron, job).await?;
    }
    println!("ready");
    let mut worker = kiribi
        .worker()
        .concurrency(concurrency)
        .lease(Duration::from_millis(lease_ms))
        .poll_interval(Duration::from_millis(poll_ms))
        .shutdown_timeout(Duration::from_secs(5));
    if let Some(prefetch) = prefetch {
        worker = worker.prefetch(prefetch);
    }
    if let Ok(grace) = std::env::var(kiribi_tests::jobs::CANCEL_GRACE_ENV) {
        let grace: u64 = grace
            .parse()
            .expect("KIRIBI_TEST_CANCEL_GRACE_MS is a number of milliseconds");
        worker = worker.cancel_grace(Duration::from_millis(grace));
    }
    worker.run().await
}

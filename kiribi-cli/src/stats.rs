//! `kiribi stats`: what happened over a window, per job name; the queues now.

use std::time::Duration;

use kiribi::Kiribi;

use crate::error::CliResult;
use crate::output::{self, maybe_duration, time};

/// Prints the statistics of the last `window`.
pub(crate) async fn run(kiribi: &Kiribi, window: Duration, json: bool) -> CliResult {
    let stats = kiribi.stats(window).await?;
    if json {
        return output::json(&stats);
    }
    println!("from {} to {}", time(stats.since), time(stats.until));
    // Every column but the job's name holds a figure, right-aligned.
    const COLUMNS: [&str; 12] = [
        "job",
        "succeeded",
        "failed",
        "cancelled",
        "retried",
        "failure",
        "run p50",
        "run p95",
        "run p99",
        "wait p50",
        "wait p95",
        "per min",
    ];
    let mut table = output::table(&COLUMNS, &COLUMNS[1..]);
    for job in &stats.jobs {
        table.add_row(vec![
            job.name.clone(),
            job.succeeded.to_string(),
            job.failed.to_string(),
            job.cancelled.to_string(),
            job.retried.to_string(),
            format!("{:.1}%", job.failure_rate * 100.0),
            maybe_duration(job.run_time.p50),
            maybe_duration(job.run_time.p95),
            maybe_duration(job.run_time.p99),
            maybe_duration(job.wait_time.p50),
            maybe_duration(job.wait_time.p95),
            format!("{:.2}", job.per_minute),
        ]);
    }
    output::print_table(&table, "no jobs finished in this window");
    println!();
    crate::queues::print(&stats.queues);
    Ok(())
}

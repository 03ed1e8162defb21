//! `kiribi-bench`: kiribi against a raw-SQL queue and Rust peers, on SQLite and
//! PostgreSQL. See `BENCHMARKS.md` at the repository root.
//!
//! ```text
//! kiribi-bench all [--jobs N] [--runs R] [--quick] [--contenders a,b] [--workloads w1,w3] [--pg-url URL]
//! kiribi-bench run <workload> <contender> [--jobs N] [--quick] [--pg-url URL]
//! ```

mod contenders;
mod databases;
mod recorder;
mod report;
mod subprocess;
mod waiting;
mod workloads;

use std::time::Duration;

use anyhow::{Context, Result};

/// Without TLS: the `peers` feature turns on sqlx's TLS (graphile_worker's default
/// features), and with the server's `ssl = on` every PostgreSQL contender of that
/// build would then negotiate TLS, and those of the default build would not.
const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable";

const USAGE: &str = "\
usage:
  kiribi-bench all [--jobs N] [--runs R] [--quick] [--contenders a,b,…] [--workloads w1,w3,…] [--pg-url URL]
  kiribi-bench run <workload> <contender> [--jobs N] [--quick] [--pg-url URL]

workloads: w1 w2 w3 (also reports `dead`) w4 w5 w5-local w7 (reports `w7-delay` and
           `w7-retry`) idle-cpu w8-unique w9 (reports `w9-keys` and `w9-most`) w3-logs w10-flow
           w6-small w6-large rss
contenders: kiribi-sqlite raw-sqlite raw-limit-sqlite apalis-sqlite kiribi-postgres
            raw-postgres raw-limit-postgres apalis-postgres graphile-worker
            graphile-worker-default (apalis-* and graphile-* need --features peers)
            kiribi-sql-sqlite kiribi-sql-postgres (kiribi's SQL under raw-limit's worker)
--jobs sets the size of w1-w4, w3-logs and w6 (default 20000; BENCHMARKS.md's drain tables use
10000 and 100000); w5, w7, idle-cpu and rss have their own sizes.
--pg-url defaults to $KIRIBI_BENCH_PG_URL, then postgres://postgres@127.0.0.1:5432/test?sslmode=disable;
each PostgreSQL contender gets a database kiribi_bench_<contender> of its own.";

/// Sizes and where PostgreSQL is.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) pg_url: String,
    /// Jobs per run for W1–W4 and W6 (W5 and W7 have their own sizes).
    pub(crate) jobs: u64,
    pub(crate) runs: usize,
    pub(crate) quick: bool,
    pub(crate) contenders: Option<Vec<String>>,
    pub(crate) workloads: Option<Vec<String>>,
}

impl Config {
    pub(crate) fn finished_small(&self) -> u64 {
        if self.quick { 1_000 } else { 10_000 }
    }

    pub(crate) fn finished_large(&self) -> u64 {
        if self.quick { 5_000 } else { 1_000_000 }
    }

    pub(crate) fn rss_pending(&self) -> u64 {
        if self.quick { 5_000 } else { 1_000_000 }
    }

    /// How many latency jobs, and how far apart.
    pub(crate) fn latency_jobs(&self) -> (u64, Duration) {
        if self.quick {
            (20, Duration::from_millis(5))
        } else {
            (200, Duration::from_millis(20))
        }
    }
}

fn parse(args: &[String]) -> Result<(Vec<String>, Config)> {
    let mut positional = Vec::new();
    let mut pg_url = std::env::var("KIRIBI_BENCH_PG_URL").unwrap_or_else(|_| DEFAULT_PG_URL.into());
    let mut jobs = None;
    let mut runs = None;
    let mut quick = false;
    let mut contenders = None;
    let mut workloads = None;
    let mut iter = args.iter();
    let list = |s: &String| s.split(',').map(str::to_owned).collect::<Vec<_>>();
    while let Some(arg) = iter.next() {
        let mut value = || iter.next().with_context(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--pg-url" => pg_url = value()?.clone(),
            "--jobs" => jobs = Some(value()?.parse().context("--jobs")?),
            "--runs" => runs = Some(value()?.parse().context("--runs")?),
            "--quick" => quick = true,
            "--contenders" => contenders = Some(list(value()?)),
            "--workloads" => workloads = Some(list(value()?)),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other if other.starts_with("--") => anyhow::bail!("unknown option {other}\n{USAGE}"),
            _ => positional.push(arg.clone()),
        }
    }
    let config = Config {
        pg_url,
        jobs: jobs.unwrap_or(if quick { 200 } else { 20_000 }),
        runs: runs.unwrap_or(if quick { 1 } else { 3 }).max(1),
        quick,
        contenders,
        workloads,
    };
    Ok((positional, config))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if args.first().map(String::as_str) == Some("worker") {
        return runtime.block_on(subprocess::worker_main(&args[1..]));
    }
    let (positional, config) = parse(&args)?;
    let result = runtime.block_on(async {
        match positional.iter().map(String::as_str).collect::<Vec<_>>()[..] {
            ["all"] => report::all(&config).await,
            ["run", workload, contender] => {
                for (key, measure) in workloads::run(&config, workload, contender).await? {
                    println!("{key} {contender}: {}", report::format(&measure));
                }
                Ok(())
            }
            _ => anyhow::bail!("{USAGE}"),
        }
    });
    // Peer libraries may leave tasks behind; do not wait for them.
    runtime.shutdown_timeout(Duration::from_secs(1));
    result
}

//! `kiribi bench`: how fast kiribi enqueues and runs jobs on the URL's backend, in a
//! scratch store, with a progress bar per phase.
//!
//! The full comparison (raw SQL queues, peers, latency, many processes) is the
//! workspace's `kiribi-bench`; this is the quick look an operator takes at a server.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use kiribi::postgres::{PgStorage, PgStorageOptions};
use kiribi::{JobFilter, JobStatus, Kiribi};
use serde::Serialize;

use crate::cli::BenchArgs;
use crate::error::{CliError, CliResult};
use crate::output;

/// How many jobs one `enqueue_many` call inserts.
const BATCH: u64 = 1_000;

/// How long the drain may go without a job finishing before the benchmark gives up.
const STALL: Duration = Duration::from_secs(60);

/// The benchmark's job: nothing but its own bookkeeping.
#[kiribi::job(name = "kiribi.cli.bench")]
async fn bench_noop(seq: u64) -> Result<(), String> {
    let _ = seq;
    Ok(())
}

/// One phase's figures.
#[derive(Debug, Serialize)]
struct Phase {
    phase: &'static str,
    jobs: u64,
    seconds: f64,
    jobs_per_second: f64,
}

impl Phase {
    fn new(phase: &'static str, jobs: u64, took: Duration) -> Self {
        let seconds = took.as_secs_f64();
        Self {
            phase,
            jobs,
            seconds,
            jobs_per_second: jobs as f64 / seconds.max(f64::EPSILON),
        }
    }
}

/// What `bench --json` prints.
#[derive(Debug, Serialize)]
struct Report {
    backend: &'static str,
    concurrency: u16,
    phases: Vec<Phase>,
}

/// Where the benchmark's jobs live, so that it never touches the URL's own jobs.
enum Scratch {
    /// A SQLite file in a temporary directory, removed when dropped.
    Sqlite { _dir: tempfile::TempDir },
    /// A schema of its own in the URL's PostgreSQL database, dropped afterwards.
    Postgres(String),
}

/// Runs the phases in a scratch store on the URL's backend, then removes it.
pub(crate) async fn run(url: &str, args: &BenchArgs, json: bool) -> CliResult {
    let (kiribi, scratch) = open(url).await?;
    let result = phases(&kiribi, args).await;
    if let Scratch::Postgres(schema) = &scratch
        && let Some(pool) = kiribi.pg_pool()
    {
        let drop = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
        if let Err(error) = kiribi::sqlx::raw_sql(kiribi::sqlx::AssertSqlSafe(drop))
            .execute(pool)
            .await
        {
            eprintln!("warning: could not drop the benchmark's schema `{schema}`: {error}");
        }
    }
    drop(scratch);
    let report = Report {
        backend: kiribi.storage().backend(),
        concurrency: args.concurrency,
        phases: result?,
    };
    if json {
        return output::json(&report);
    }
    let mut table = output::table(
        &["phase", "jobs", "time", "jobs/s"],
        &["jobs", "time", "jobs/s"],
    );
    for phase in &report.phases {
        table.add_row(vec![
            phase.phase.to_owned(),
            phase.jobs.to_string(),
            output::duration(Duration::from_secs_f64(phase.seconds)),
            format!("{:.0}", phase.jobs_per_second),
        ]);
    }
    println!(
        "{} backend, worker concurrency {}",
        report.backend, report.concurrency
    );
    output::print_table(&table, "no phases ran");
    Ok(())
}

/// A scratch store on the URL's backend: a temporary SQLite file, or a schema
/// `kiribi_bench_<pid>` in the URL's PostgreSQL database.
async fn open(url: &str) -> CliResult<(Kiribi, Scratch)> {
    let scheme = url.split_once(':').map_or("", |(scheme, _)| scheme);
    match scheme {
        "sqlite" => {
            let dir = tempfile::tempdir()?;
            let url = format!("sqlite://{}", dir.path().join("bench.db").display());
            let kiribi = Kiribi::connect(&url).await.map_err(CliError::Connect)?;
            Ok((kiribi, Scratch::Sqlite { _dir: dir }))
        }
        "postgres" | "postgresql" => {
            let schema = format!("kiribi_bench_{}", std::process::id());
            let options = PgStorageOptions::from_url(url)
                .map_err(CliError::Connect)?
                .schema(&schema);
            let storage = PgStorage::connect_with(options)
                .await
                .map_err(CliError::Connect)?;
            Ok((Kiribi::new(storage), Scratch::Postgres(schema)))
        }
        _ => Err(CliError::Usage(format!(
            "bench runs on sqlite: and postgres: URLs, not `{url}`: pass --url \
             sqlite://jobs.db (the file is not touched) or --url postgres://user@host/database"
        ))),
    }
}

fn bar(len: u64, phase: &str) -> ProgressBar {
    let bar = ProgressBar::new(len).with_prefix(phase.to_owned());
    if let Ok(style) =
        ProgressStyle::with_template("{prefix:<22} [{elapsed_precise}] {wide_bar} {pos}/{len}")
    {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}

async fn phases(kiribi: &Kiribi, args: &BenchArgs) -> CliResult<Vec<Phase>> {
    let n = args.jobs;
    let mut phases = Vec::new();

    let progress = bar(n, "enqueue, one by one");
    let started = Instant::now();
    for seq in 0..n {
        BenchNoop::enqueue(kiribi, BenchNoop { seq }).await?;
        progress.inc(1);
    }
    phases.push(Phase::new("enqueue", n, started.elapsed()));
    progress.finish();

    let progress = bar(n, "enqueue_many ×1000");
    let started = Instant::now();
    let mut seq = 0;
    while seq < n {
        let end = (seq + BATCH).min(n);
        BenchNoop::enqueue_many(kiribi, (seq..end).map(|seq| BenchNoop { seq })).await?;
        progress.inc(end - seq);
        seq = end;
    }
    phases.push(Phase::new("enqueue_many", n, started.elapsed()));
    progress.finish();

    let total = 2 * n;
    let progress = bar(total, &format!("drain, concurrency {}", args.concurrency));
    let started = Instant::now();
    let worker = kiribi
        .worker()
        .concurrency(usize::from(args.concurrency))
        .start();
    let succeeded = JobFilter::new().status(JobStatus::Succeeded);
    let (mut done, mut last_change) = (0, Instant::now());
    while done < total {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let now = kiribi.count(succeeded.clone()).await?;
        if now > done {
            (done, last_change) = (now, Instant::now());
            progress.set_position(done);
        } else if last_change.elapsed() > STALL {
            let _ = worker.shutdown().await;
            return Err(CliError::Runtime(format!(
                "the drain stalled: no job finished for {} s ({done} of {total} done)",
                STALL.as_secs()
            )));
        }
    }
    phases.push(Phase::new("drain", total, started.elapsed()));
    progress.finish();
    worker.shutdown().await?;
    Ok(phases)
}

//! `kiribi`, the command line of the kiribi job store: inspect and operate jobs,
//! statistics, queues, schedules and flows in a SQLite or PostgreSQL database.
//!
//! ```text
//! kiribi --url sqlite://jobs.db migrate
//! kiribi --url sqlite://jobs.db jobs list --status failed --name send_welcome --created-after 1h
//! kiribi --url sqlite://jobs.db jobs show 42
//! kiribi --url sqlite://jobs.db jobs retry 42 43
//! kiribi --url sqlite://jobs.db jobs retry --status failed --name send_welcome --all
//! kiribi --url sqlite://jobs.db jobs cancel|delete <id>... | <filters> [--all]
//! kiribi --url sqlite://jobs.db stats --window 1h
//! kiribi --url sqlite://jobs.db queues [pause|resume <name>]
//! kiribi --url sqlite://jobs.db schedules [pause|resume|run <name>]
//! kiribi --url sqlite://jobs.db flows list [--status running]
//! kiribi --url sqlite://jobs.db flows show 7
//! kiribi --url sqlite://jobs.db serve --addr 127.0.0.1:8080 [--token T] [--read-only]
//! kiribi --url sqlite://jobs.db bench [--jobs 10000] [--concurrency 8]
//! kiribi --url "$DATABASE_URL" --json jobs list      # one JSON document, for scripts
//! ```
//!
//! The URL comes from `--url`, else from `DATABASE_URL`. Every command but
//! `migrate` connects without migrating, and refuses a database that `kiribi
//! migrate` (or a worker) has not migrated. An action by filter (`jobs retry
//! --status failed`) asks for confirmation on a terminal, and needs `--all`
//! elsewhere. `serve` refuses an address other than loopback without `--token`.
//!
//! # Exit codes
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | runtime error: the database failed or is unreachable, or an action was declined |
//! | 2 | usage error: a bad flag or value, a missing or malformed URL, a refused `serve`, an action by filter without `--all` where kiribi cannot ask |
//! | 3 | not found: no such job, flow or schedule, or nothing the action applies to (retrying a job that succeeded, pausing a paused queue, resuming one that is not paused) |
//!
//! An action on several ids acts on every one it can, and exits 3 if it left any
//! as it was. An action by filter that matches nothing exits 0.

mod bench;
mod cli;
mod error;
mod flows;
mod jobs;
mod output;
mod queues;
mod schedules;
mod serve;
mod stats;
mod when;

use std::process::ExitCode;

use clap::Parser;
use kiribi::Kiribi;

use crate::cli::{Cli, Command};
use crate::error::{CliError, CliResult, EXIT_SUCCESS};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return fail(&CliError::from(error)),
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::from(EXIT_SUCCESS),
        Err(error) => fail(&error),
    }
}

/// Prints `error` (and what to do about it) and returns its exit code.
fn fail(error: &CliError) -> ExitCode {
    eprintln!("error: {error}");
    if let Some(advice) = error.advice() {
        eprintln!("hint: {advice}");
    }
    error.exit_code()
}

async fn run(cli: Cli) -> CliResult {
    let json = cli.json;
    match cli.command {
        Command::Migrate => {
            let kiribi = Kiribi::connect(url(cli.url.as_deref())?)
                .await
                .map_err(CliError::Connect)?;
            let backend = kiribi.storage().backend();
            if json {
                output::json(&serde_json::json!({ "migrated": true, "backend": backend }))
            } else {
                println!("{backend} database migrated: kiribi's schema is up to date");
                Ok(())
            }
        }
        Command::Jobs(command) => {
            jobs::run(&connect(cli.url.as_deref()).await?, command, json).await
        }
        Command::Stats { window } => {
            stats::run(&connect(cli.url.as_deref()).await?, window, json).await
        }
        Command::Queues { action } => {
            queues::run(&connect(cli.url.as_deref()).await?, action, json).await
        }
        Command::Schedules { action } => {
            schedules::run(&connect(cli.url.as_deref()).await?, action, json).await
        }
        Command::Flows(command) => {
            flows::run(&connect(cli.url.as_deref()).await?, command, json).await
        }
        Command::Bench(args) => bench::run(url(cli.url.as_deref())?, &args, json).await,
        Command::Serve(args) => {
            serve::check(&args)?;
            serve::run(connect(cli.url.as_deref()).await?, args).await
        }
    }
}

/// The URL from `--url` or `DATABASE_URL`, or a usage error naming both.
fn url(url: Option<&str>) -> CliResult<&str> {
    url.filter(|url| !url.trim().is_empty()).ok_or_else(|| {
        CliError::Usage(
            "no database URL: pass --url sqlite://path/to/jobs.db (or postgres://user@host/database), \
             or set DATABASE_URL"
                .to_owned(),
        )
    })
}

/// Connects without migrating: only `migrate` changes the schema.
async fn connect(url_arg: Option<&str>) -> CliResult<Kiribi> {
    Kiribi::builder()
        .migrate(false)
        .connect(url(url_arg)?)
        .await
        .map_err(CliError::Connect)
}

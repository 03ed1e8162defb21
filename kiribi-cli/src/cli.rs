//! The command line as clap reads it: every command, flag and value parser.

use std::net::SocketAddr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand};
use kiribi::{FlowId, FlowStatus, JobId, JobStatus};

use crate::when::{parse_ago_or_time, parse_window};

/// What `--help` ends with: the environment and the exit codes.
const AFTER_HELP: &str = "\
The database URL comes from --url, else from $DATABASE_URL:
  sqlite://jobs.db, postgres://user:password@host/database

Exit codes:
  0  success
  1  runtime error: the database failed or is unreachable, or an action was declined
  2  usage error: a bad flag or value, a missing or malformed URL, a refused `serve`,
     an action by filter without --all where kiribi cannot ask
  3  not found: no such job, flow or schedule, or nothing the action applies to
     (retrying a job that succeeded, pausing a paused queue, resuming one that is not
     paused); an action on several ids acts on every one it can first";

/// Inspect and operate a kiribi job store: jobs, statistics, queues, schedules,
/// flows, the dashboard and the benchmark.
#[derive(Debug, Parser)]
#[command(name = "kiribi", version, after_help = AFTER_HELP)]
pub(crate) struct Cli {
    /// The job store: `sqlite://path/to/jobs.db` or `postgres://user@host/database`.
    #[arg(long, global = true, env = "DATABASE_URL", hide_env_values = true)]
    pub(crate) url: Option<String>,

    /// Print one JSON document instead of tables, for scripts.
    #[arg(long, global = true)]
    pub(crate) json: bool,

    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create or upgrade kiribi's tables in the database (every other command
    /// refuses a database that is not migrated).
    Migrate,
    /// List, show, retry, cancel and delete jobs.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Per-job counts, failure rate, run and wait time percentiles, throughput; queues.
    Stats {
        /// How far back to look (at most 31 days): `15m`, `1h`, `7d`.
        #[arg(long, default_value = "1h", value_parser = parse_window)]
        window: Duration,
    },
    /// List queues (pending, running, oldest wait, paused), or pause and resume one.
    Queues {
        #[command(subcommand)]
        action: Option<QueueAction>,
    },
    /// List schedules (next and last run, paused), or pause, resume or run one.
    Schedules {
        #[command(subcommand)]
        action: Option<ScheduleAction>,
    },
    /// List flows, or show one flow's steps.
    #[command(subcommand)]
    Flows(FlowsCommand),
    /// Serve the web dashboard over the job store.
    Serve(ServeArgs),
    /// Measure enqueue and drain rates on the URL's backend, in a scratch store
    /// (a temporary SQLite file, or a schema of its own in the PostgreSQL database).
    Bench(BenchArgs),
}

#[derive(Debug, Subcommand)]
pub(crate) enum JobsCommand {
    /// List jobs, newest first.
    List {
        #[command(flatten)]
        filter: FilterArgs,
    },
    /// Show one job: its record, every attempt, its log lines and its flow.
    Show {
        /// The job's id.
        id: JobId,
    },
    /// Make failed, cancelled or retrying jobs run again.
    Retry(ActionArgs),
    /// Cancel waiting jobs, or ask running ones to stop.
    Cancel(ActionArgs),
    /// Delete jobs that are not running, with their attempts and logs.
    Delete(ActionArgs),
}

/// Which jobs: every criterion must hold.
#[derive(Debug, Clone, Default, Args)]
#[group(id = "filter", multiple = true)]
pub(crate) struct FilterArgs {
    /// Only jobs in this status: blocked, pending, running, succeeded, retrying,
    /// failed or cancelled.
    #[arg(long)]
    pub(crate) status: Option<JobStatus>,
    /// Only jobs of this name.
    #[arg(long)]
    pub(crate) name: Option<String>,
    /// Only jobs in this queue.
    #[arg(long)]
    pub(crate) queue: Option<String>,
    /// Only jobs whose payload or last error contains this text.
    #[arg(long)]
    pub(crate) text: Option<String>,
    /// Created at or after: an RFC 3339 time, or a duration ago (`1h`, `30m`, `7d`).
    #[arg(long, value_name = "WHEN", value_parser = parse_ago_or_time)]
    pub(crate) created_after: Option<DateTime<Utc>>,
    /// Created before: an RFC 3339 time, or a duration ago.
    #[arg(long, value_name = "WHEN", value_parser = parse_ago_or_time)]
    pub(crate) created_before: Option<DateTime<Utc>>,
    /// Finished at or after: an RFC 3339 time, or a duration ago.
    #[arg(long, value_name = "WHEN", value_parser = parse_ago_or_time)]
    pub(crate) finished_after: Option<DateTime<Utc>>,
    /// Finished before: an RFC 3339 time, or a duration ago.
    #[arg(long, value_name = "WHEN", value_parser = parse_ago_or_time)]
    pub(crate) finished_before: Option<DateTime<Utc>>,
    /// At most this many jobs (listing: default 100; actions: default every match).
    #[arg(long)]
    pub(crate) limit: Option<usize>,
    /// Only jobs older than this id: the paging cursor (the last id of a page).
    #[arg(long, value_name = "ID")]
    pub(crate) before_id: Option<JobId>,
}

/// The jobs an action applies to: ids, or a filter.
#[derive(Debug, Args)]
pub(crate) struct ActionArgs {
    /// The jobs' ids; or leave them out and select jobs with the filters.
    #[arg(conflicts_with_all = ["filter", "all"])]
    pub(crate) ids: Vec<JobId>,
    #[command(flatten)]
    pub(crate) filter: FilterArgs,
    /// Act on every job the filters match without asking (no filter: every job).
    #[arg(long)]
    pub(crate) all: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum QueueAction {
    /// Stop every worker from claiming the queue's jobs (they stay pending).
    Pause {
        /// The queue's name.
        name: String,
    },
    /// Let workers claim a paused queue's jobs again.
    Resume {
        /// The queue's name.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ScheduleAction {
    /// Skip the schedule's ticks until it is resumed.
    Pause {
        /// The schedule's name.
        name: String,
    },
    /// Resume a schedule from its next tick.
    Resume {
        /// The schedule's name.
        name: String,
    },
    /// Enqueue the schedule's job now, outside its ticks.
    Run {
        /// The schedule's name.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum FlowsCommand {
    /// List flows, newest first.
    List {
        /// Only flows in this status: running, succeeded, failed or cancelled.
        #[arg(long)]
        status: Option<FlowStatus>,
        /// At most this many flows.
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Only flows older than this id: the paging cursor.
        #[arg(long, value_name = "ID")]
        before_id: Option<FlowId>,
    },
    /// Show a flow's steps: status, dependencies, timings.
    Show {
        /// The flow's id.
        id: FlowId,
    },
}

/// Where and how `serve` listens.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// The address to listen on; one that is not loopback needs `--token`.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub(crate) addr: SocketAddr,
    /// A secret every request must present: `?token=…` once per browser, or an
    /// `Authorization: Bearer …` header.
    #[arg(long, env = "KIRIBI_DASHBOARD_TOKEN", hide_env_values = true)]
    pub(crate) token: Option<String>,
    /// Show everything, but hide and refuse every action.
    #[arg(long)]
    pub(crate) read_only: bool,
}

/// How much `bench` does.
#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    /// Jobs per enqueue phase (the drain runs both phases' jobs).
    #[arg(long, default_value_t = 10_000)]
    pub(crate) jobs: u64,
    /// How many jobs the worker runs at once while draining.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..))]
    pub(crate) concurrency: u16,
}

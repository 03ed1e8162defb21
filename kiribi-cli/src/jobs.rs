//! `kiribi jobs`: list, show, and retry, cancel or delete by id or by filter.

use std::io::{BufRead, IsTerminal, Write};

use kiribi::{JobFilter, JobId, JobRecord, JobStatus, Kiribi};
use serde::Serialize;

use crate::cli::{ActionArgs, FilterArgs, JobsCommand};
use crate::error::{CliError, CliResult};
use crate::output::{self, between, maybe_duration, maybe_time, one_line, time};

/// How many jobs an action by filter reads at a time.
const PAGE: usize = 500;

/// Runs one `jobs` subcommand.
pub(crate) async fn run(kiribi: &Kiribi, command: JobsCommand, json: bool) -> CliResult {
    match command {
        JobsCommand::List { filter } => list(kiribi, &filter, json).await,
        JobsCommand::Show { id } => show(kiribi, id, json).await,
        JobsCommand::Retry(args) => act(kiribi, Action::Retry, args, json).await,
        JobsCommand::Cancel(args) => act(kiribi, Action::Cancel, args, json).await,
        JobsCommand::Delete(args) => act(kiribi, Action::Delete, args, json).await,
    }
}

/// The filter the flags describe, its limit left at the default.
fn filter_of(args: &FilterArgs) -> JobFilter {
    let mut filter = JobFilter::new();
    if let Some(status) = args.status {
        filter = filter.status(status);
    }
    if let Some(name) = &args.name {
        filter = filter.name(name);
    }
    if let Some(queue) = &args.queue {
        filter = filter.queue(queue);
    }
    if let Some(text) = &args.text {
        filter = filter.text(text);
    }
    if let Some(at) = args.created_after {
        filter = filter.created_after(at);
    }
    if let Some(at) = args.created_before {
        filter = filter.created_before(at);
    }
    if let Some(at) = args.finished_after {
        filter = filter.finished_after(at);
    }
    if let Some(at) = args.finished_before {
        filter = filter.finished_before(at);
    }
    if let Some(id) = args.before_id {
        filter = filter.before(id);
    }
    filter
}

async fn list(kiribi: &Kiribi, args: &FilterArgs, json: bool) -> CliResult {
    let limit = args.limit.unwrap_or(JobFilter::DEFAULT_LIMIT);
    let jobs = kiribi.jobs(filter_of(args).limit(limit)).await?;
    if json {
        return output::json(&jobs);
    }
    let mut table = output::table(
        &[
            "id", "name", "queue", "status", "attempts", "created", "finished", "error",
        ],
        &["id", "attempts"],
    );
    for job in &jobs {
        table.add_row(vec![
            job.id.to_string(),
            job.name.clone(),
            job.queue.clone(),
            job.status.to_string(),
            format!("{}/{}", job.attempts, job.max_attempts),
            time(job.created_at),
            maybe_time(job.finished_at),
            job.last_error
                .as_deref()
                .map_or_else(String::new, |e| one_line(e, 60)),
        ]);
    }
    output::print_table(&table, "no jobs match");
    if let Some(last) = jobs.last().filter(|_| jobs.len() == limit && limit > 0) {
        eprintln!(
            "more may follow: add --before-id {} for the next page",
            last.id
        );
    }
    Ok(())
}

/// A job's place in its flow, for `jobs show`.
#[derive(Debug, Serialize)]
struct FlowMembership {
    id: kiribi::FlowId,
    name: String,
    status: kiribi::FlowStatus,
    step: String,
    depends_on: Vec<String>,
}

/// Everything `jobs show --json` prints.
#[derive(Debug, Serialize)]
struct JobDetail {
    job: JobRecord,
    attempts: Vec<kiribi::AttemptRecord>,
    logs: Vec<kiribi::LogLine>,
    flow: Option<FlowMembership>,
}

async fn show(kiribi: &Kiribi, id: JobId, json: bool) -> CliResult {
    let job = kiribi
        .job(id)
        .await?
        .ok_or_else(|| CliError::NotFound(format!("no job has id {id}")))?;
    let attempts = kiribi.attempts(id).await?;
    let logs = kiribi.logs(id).await?;
    let flow = match job.flow {
        Some(flow_id) => kiribi.flow(flow_id).await?.map(|flow| {
            let step = job.flow_step.clone().unwrap_or_default();
            FlowMembership {
                depends_on: flow
                    .step(&step)
                    .map(|s| s.depends_on.clone())
                    .unwrap_or_default(),
                id: flow.id,
                name: flow.name,
                status: flow.status,
                step,
            }
        }),
        None => None,
    };
    let detail = JobDetail {
        job,
        attempts,
        logs,
        flow,
    };
    if json {
        return output::json(&detail);
    }
    print_detail(&detail);
    Ok(())
}

fn print_detail(detail: &JobDetail) {
    let job = &detail.job;
    let mut fields: Vec<(&str, String)> = Vec::new();
    let mut field = |name, value| fields.push((name, value));
    field("id", job.id.to_string());
    field("name", job.name.clone());
    field(
        "queue",
        format!("{} (priority {})", job.queue, job.priority),
    );
    field("status", job.status.to_string());
    field(
        "attempts",
        format!("{} of {}", job.attempts, job.max_attempts),
    );
    field("created", time(job.created_at));
    field("run at", time(job.run_at));
    field("started", maybe_time(job.started_at));
    field("finished", maybe_time(job.finished_at));
    if let Some(progress) = job.progress {
        field("progress", format!("{:.0}%", progress * 100.0));
    }
    if let Some(worker) = &job.lease_owner {
        field("worker", worker.clone());
    }
    if let Some(key) = &job.unique_key {
        field("unique key", key.clone());
    }
    if let Some(schedule) = &job.schedule {
        let tick = job
            .schedule_tick
            .map(|at| format!(", tick {}", time(at)))
            .unwrap_or_default();
        field("schedule", format!("{schedule}{tick}"));
    }
    if let Some(flow) = &detail.flow {
        let after = if flow.depends_on.is_empty() {
            String::new()
        } else {
            format!(", after {}", flow.depends_on.join(", "))
        };
        field(
            "flow",
            format!(
                "{} `{}` ({}), step `{}`{after}",
                flow.id, flow.name, flow.status, flow.step
            ),
        );
    }
    if let Some(error) = &job.last_error {
        field("last error", error.clone());
    }
    for (name, value) in &fields {
        println!("{name:<12}{value}");
    }
    println!("\npayload:\n{}", pretty(&job.payload));
    if let Some(result) = &job.result {
        println!("\nresult:\n{}", pretty(result));
    }

    let mut attempts = output::table(
        &["attempt", "worker", "started", "took", "error"],
        &["attempt", "took"],
    );
    for attempt in &detail.attempts {
        attempts.add_row(vec![
            attempt.attempt.to_string(),
            attempt.worker.clone().unwrap_or_else(|| "-".to_owned()),
            time(attempt.started_at),
            maybe_duration(between(Some(attempt.started_at), attempt.finished_at)),
            attempt
                .error
                .as_deref()
                .map_or_else(String::new, |e| one_line(e, 80)),
        ]);
    }
    println!("\nattempts:");
    output::print_table(&attempts, "none yet");

    let mut logs = output::table(&["attempt", "at", "level", "message"], &["attempt"]);
    for line in &detail.logs {
        logs.add_row(vec![
            line.attempt.to_string(),
            time(line.at),
            line.level.to_string(),
            line.message.clone(),
        ]);
    }
    println!("\nlogs:");
    output::print_table(&logs, "none");
}

fn pretty(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

/// What `retry`, `cancel` and `delete` do to one job.
#[derive(Debug, Clone, Copy)]
enum Action {
    Retry,
    Cancel,
    Delete,
}

impl Action {
    fn verb(self) -> &'static str {
        match self {
            Self::Retry => "retry",
            Self::Cancel => "cancel",
            Self::Delete => "delete",
        }
    }

    fn done(self) -> &'static str {
        match self {
            Self::Retry => "retried",
            Self::Cancel => "cancelled",
            Self::Delete => "deleted",
        }
    }

    /// The states a job must be in for the action to apply, for messages.
    fn applies_to(self) -> &'static str {
        match self {
            Self::Retry => "failed, cancelled or retrying jobs",
            Self::Cancel => "blocked, pending, retrying or running jobs",
            Self::Delete => "jobs that are not running",
        }
    }

    async fn apply(self, kiribi: &Kiribi, id: JobId) -> kiribi::Result<bool> {
        match self {
            Self::Retry => kiribi.retry(id).await,
            Self::Cancel => kiribi.cancel(id).await,
            Self::Delete => kiribi.delete(id).await,
        }
    }
}

/// A job that an action by id left as it was, and why.
#[derive(Debug, Serialize)]
struct Skipped {
    id: JobId,
    /// `None`: no job has this id.
    status: Option<JobStatus>,
}

/// What `jobs retry|cancel|delete --json` prints.
#[derive(Debug, Serialize)]
struct ActionReport {
    action: &'static str,
    /// How many jobs were named or matched.
    matched: u64,
    /// How many the action changed.
    affected: u64,
    /// The ids that the action left as they were (by id only: a filter's
    /// non-matches are not listed).
    skipped: Vec<Skipped>,
}

impl ActionReport {
    fn new(action: Action) -> Self {
        Self {
            action: action.verb(),
            matched: 0,
            affected: 0,
            skipped: Vec::new(),
        }
    }
}

async fn act(kiribi: &Kiribi, action: Action, args: ActionArgs, json: bool) -> CliResult {
    if !args.ids.is_empty() {
        return act_on_ids(kiribi, action, &args.ids, json).await;
    }
    let filter = filter_of(&args.filter);
    if !args.all {
        confirm(kiribi, action, &args.filter, &filter).await?;
    }
    let mut remaining = args.filter.limit.unwrap_or(usize::MAX);
    let mut report = ActionReport::new(action);
    let mut page = filter;
    while remaining > 0 {
        let jobs = kiribi.jobs(page.clone().limit(PAGE.min(remaining))).await?;
        let Some(last) = jobs.last() else { break };
        page = page.before(last.id);
        remaining = remaining.saturating_sub(jobs.len());
        for job in &jobs {
            report.matched += 1;
            if action.apply(kiribi, job.id).await? {
                report.affected += 1;
            }
        }
        if jobs.len() < PAGE {
            break;
        }
    }
    if json {
        return output::json(&report);
    }
    let left = report.matched - report.affected;
    println!(
        "{} {} of {} matching jobs",
        action.done(),
        report.affected,
        report.matched
    );
    if left > 0 {
        println!(
            "{left} left as they were: {} applies to {}",
            action.verb(),
            action.applies_to()
        );
    }
    Ok(())
}

async fn act_on_ids(kiribi: &Kiribi, action: Action, ids: &[JobId], json: bool) -> CliResult {
    let mut report = ActionReport::new(action);
    for &id in ids {
        report.matched += 1;
        if action.apply(kiribi, id).await? {
            report.affected += 1;
        } else {
            let status = kiribi.job(id).await?.map(|job| job.status);
            report.skipped.push(Skipped { id, status });
        }
    }
    if json {
        output::json(&report)?;
    } else {
        println!(
            "{} {} of {} jobs",
            action.done(),
            report.affected,
            report.matched
        );
        for skipped in &report.skipped {
            match skipped.status {
                None => println!("job {}: not found", skipped.id),
                Some(status) => println!(
                    "job {}: {status}, left as it is ({} applies to {})",
                    skipped.id,
                    action.verb(),
                    action.applies_to()
                ),
            }
        }
    }
    if report.skipped.is_empty() {
        Ok(())
    } else {
        Err(CliError::NotFound(format!(
            "{} of {} jobs not {}",
            report.skipped.len(),
            report.matched,
            action.done()
        )))
    }
}

/// Asks on the terminal before an action by filter; refuses without a terminal.
async fn confirm(
    kiribi: &Kiribi,
    action: Action,
    args: &FilterArgs,
    filter: &JobFilter,
) -> CliResult {
    let verb = action.verb();
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Usage(format!(
            "{verb} by filter acts on every matching job: add --all to go ahead (standard \
             input is not a terminal, so kiribi cannot ask), or name the jobs by id"
        )));
    }
    let count = kiribi.count(filter.clone()).await?;
    let count = args.limit.map_or(count, |limit| {
        count.min(u64::try_from(limit).unwrap_or(u64::MAX))
    });
    eprint!("{verb} {count} jobs? [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if matches!(answer.trim(), "y" | "Y" | "yes") {
        Ok(())
    } else {
        Err(CliError::Runtime(
            "nothing changed: the action was declined".to_owned(),
        ))
    }
}

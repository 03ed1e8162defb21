//! `kiribi schedules`: list schedules, pause, resume or run one now.

use kiribi::{JobId, Kiribi};
use serde::Serialize;

use crate::cli::ScheduleAction;
use crate::error::{CliError, CliResult};
use crate::output::{self, maybe_time, time};

/// What `schedules pause|resume|run --json` prints.
#[derive(Debug, Serialize)]
struct ScheduleChange<'a> {
    schedule: &'a str,
    action: &'static str,
    /// The job `run` enqueued.
    #[serde(skip_serializing_if = "Option::is_none")]
    job: Option<JobId>,
}

/// Lists the schedules, or acts on one.
pub(crate) async fn run(kiribi: &Kiribi, action: Option<ScheduleAction>, json: bool) -> CliResult {
    let (name, verb, job) = match &action {
        None => return list(kiribi, json).await,
        Some(ScheduleAction::Pause { name }) => (
            name,
            "paused",
            kiribi.pause_schedule(name).await?.then_some(None),
        ),
        Some(ScheduleAction::Resume { name }) => (
            name,
            "resumed",
            kiribi.resume_schedule(name).await?.then_some(None),
        ),
        Some(ScheduleAction::Run { name }) => {
            (name, "run", kiribi.run_schedule_now(name).await?.map(Some))
        }
    };
    // `None`: no schedule of that name; `Some(job)`: done, `job` if one was enqueued.
    let Some(job) = job else {
        return Err(CliError::NotFound(format!(
            "no schedule is named `{name}` (`kiribi schedules` lists them)"
        )));
    };
    if json {
        return output::json(&ScheduleChange {
            schedule: name,
            action: verb,
            job,
        });
    }
    match job {
        Some(id) => println!("schedule `{name}` run now: job {id}"),
        None => println!("schedule `{name}` {verb}"),
    }
    Ok(())
}

async fn list(kiribi: &Kiribi, json: bool) -> CliResult {
    let schedules = kiribi.schedules().await?;
    if json {
        return output::json(&schedules);
    }
    let mut table = output::table(
        &[
            "schedule", "job", "cron", "timezone", "next run", "last run", "last job", "paused",
        ],
        &["last job"],
    );
    for schedule in &schedules {
        table.add_row(vec![
            schedule.name.clone(),
            schedule.job_name.clone(),
            schedule.cron.clone(),
            schedule.timezone.clone(),
            if schedule.paused {
                "-".to_owned()
            } else {
                time(schedule.next_run_at)
            },
            maybe_time(schedule.last_run_at),
            schedule
                .last_job_id
                .map_or_else(|| "-".to_owned(), |id| id.to_string()),
            if schedule.paused { "yes" } else { "no" }.to_owned(),
        ]);
    }
    output::print_table(&table, "no schedules");
    Ok(())
}

//! What every worker process does for schedules: declare the `#[job(cron = …)]`
//! ones, and enqueue the ticks that are due. Which process enqueues a tick is left
//! to the database ([`Storage::enqueue_tick`](crate::Storage::enqueue_tick)): every
//! process tries, one wins.

use chrono::{DateTime, Utc};
use kiribi_core::backend::{NewSchedule, ScheduleTick};

use crate::registry::Registration;
use crate::schedule::{CronSpec, job_of};
use crate::{Kiribi, Result};

/// Upserts the schedule of every `#[job(cron = …)]` linked into this binary, named
/// after its job, with a `null` payload (such a job has no payload parameters).
///
/// # Errors
///
/// [`Error::InvalidOption`](crate::Error::InvalidOption) for a hand-written
/// `JobConfig` whose cron or time zone does not parse (the macro refuses those at
/// compile time), or the backend's error.
pub(crate) async fn declare_registered(kiribi: &Kiribi) -> Result<usize> {
    let mut declared = 0;
    for registration in inventory::iter::<Registration> {
        let config = registration.config();
        let Some(cron) = config.cron else { continue };
        let timezone = config.timezone.unwrap_or("UTC");
        let next = CronSpec::parse(cron, timezone)?.next_after(Utc::now())?;
        let schedule = NewSchedule::new(config.name, config.name, cron, next)
            .with_timezone(timezone)
            .with_queue(config.queue)
            .with_priority(config.priority)
            .with_max_attempts(config.max_attempts);
        kiribi.storage().upsert_schedule(&schedule).await?;
        declared += 1;
    }
    Ok(declared)
}

/// Enqueues the due tick of every running schedule, each at most once across all
/// processes, and returns the earliest next tick it knows of (`None`: no schedule
/// runs).
///
/// # Errors
///
/// The backend's error. A schedule whose stored cron no longer parses is skipped
/// with a warning, so that it does not hold up the others.
pub(crate) async fn enqueue_due(kiribi: &Kiribi) -> Result<Option<DateTime<Utc>>> {
    let now = Utc::now();
    let mut earliest: Option<DateTime<Utc>> = None;
    let mut enqueued = false;
    for record in kiribi.storage().schedules().await? {
        if record.paused {
            continue;
        }
        let spec = match CronSpec::parse(&record.cron, &record.timezone) {
            Ok(spec) => spec,
            Err(error) => {
                tracing::warn!(schedule = %record.name, %error, "skipping a schedule that does not parse");
                continue;
            }
        };
        let next = match spec.due(record.next_run_at, now)? {
            None => record.next_run_at,
            Some((tick, next)) => {
                // `CronSpec::due` gives a tick at or after the stored one and a next
                // tick after it: the order `ScheduleTick::due` checks.
                let due = ScheduleTick::due(
                    &record.name,
                    job_of(&record),
                    record.next_run_at,
                    tick,
                    next,
                )
                .ok_or_else(|| crate::Error::InvalidOption {
                    option: "cron",
                    reason: format!(
                        "schedule `{}`: tick {tick} is not between its stored next tick {} \
                         and the one after it, {next}",
                        record.name, record.next_run_at
                    ),
                })?;
                if let Some(id) = kiribi.storage().enqueue_tick(&due).await? {
                    crate::metrics::enqueued_one(&due.job.name, &due.job.queue);
                    tracing::debug!(schedule = %record.name, %tick, job = %id, "enqueued a cron tick");
                    enqueued = true;
                }
                // Whoever enqueued the tick moved the schedule to the same next tick.
                next
            }
        };
        earliest = Some(earliest.map_or(next, |at| at.min(next)));
    }
    if enqueued {
        kiribi.wake_workers();
    }
    Ok(earliest)
}

//! Cron schedules: `Kiribi::schedule` and the calls that read and control
//! schedules. Each concern has its own file:
//!
//! | file | concern |
//! |---|---|
//! | `cron.rs` | a cron expression in a time zone, and which of its ticks is due |
//! | `ticks.rs` | declaring the `#[job(cron = …)]` schedules, and enqueueing due ticks |
//!
//! The worker's cron service (`worker/cron.rs`) runs `ticks.rs` in every process.

mod cron;
pub(crate) mod ticks;

use std::future::IntoFuture;

use chrono::Utc;
use kiribi_core::backend::{NewJob, NewSchedule, ScheduleTick};

use crate::job::BoxFuture;
use crate::registry::encode_payload;
use crate::{Job, JobId, Kiribi, Result, ScheduleRecord};

pub(crate) use self::cron::CronSpec;

impl Kiribi {
    /// Makes (or updates: by `name`) a schedule that enqueues `job` at each tick of
    /// `cron`, kept in the database; await the builder to save it.
    ///
    /// `cron` has 5 fields (minute first: `"0 3 * * *"`), 6 fields (seconds first:
    /// `"*/10 * * * * *"`) or is one of `@hourly`, `@daily`, `@weekly`, `@monthly`,
    /// `@yearly`; it is read in UTC unless [`timezone`](ScheduleBuilder::timezone)
    /// says otherwise. Calling it again with the same name replaces the schedule's
    /// job, cron and options and keeps its next tick if the cron and time zone are
    /// the same, so an app can declare its schedules at every start. Every process
    /// with a running worker enqueues the ticks, each tick exactly once; running
    /// workers see a new or changed schedule within a second, and then sleep until
    /// its next tick.
    ///
    /// # Examples
    ///
    /// ```
    /// use kiribi::{job, Kiribi};
    ///
    /// #[job]
    /// async fn cleanup(region: String) -> Result<(), String> { Ok(()) }
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), kiribi::Error> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let url = format!("sqlite://{}", dir.path().join("jobs.db").display());
    /// let kiribi = Kiribi::connect(&url).await?;
    /// kiribi.schedule("cleanup.eu", "0 3 * * *", Cleanup { region: "eu".into() }).await?;
    /// kiribi
    ///     .schedule("cleanup.jp", "0 3 * * *", Cleanup { region: "jp".into() })
    ///     .timezone("Asia/Tokyo")
    ///     .await?;
    ///
    /// let all = kiribi.schedules().await?;
    /// assert_eq!(all.len(), 2);
    /// assert_eq!(all[1].timezone, "Asia/Tokyo");
    /// assert!(kiribi.unschedule("cleanup.eu").await?);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// Awaiting it fails with [`Error::InvalidOption`](crate::Error::InvalidOption)
    /// naming `cron` or `timezone` for a bad expression or time zone (or `name` for
    /// an empty one), [`Error::Serialization`](crate::Error::Serialization) for a
    /// payload that does not serialize, or [`Error::Storage`](crate::Error::Storage).
    pub fn schedule<J: Job>(
        &self,
        name: impl Into<String>,
        cron: impl Into<String>,
        job: J,
    ) -> ScheduleBuilder<'_> {
        ScheduleBuilder {
            kiribi: self,
            name: name.into(),
            cron: cron.into(),
            timezone: "UTC".to_owned(),
            job_name: J::CONFIG.name,
            payload: encode_payload(&job),
            queue: J::CONFIG.queue.to_owned(),
            priority: J::CONFIG.priority,
            max_attempts: J::CONFIG.max_attempts,
            paused: None,
        }
    }

    /// Every schedule, by name: declared with `#[job(cron = …)]` or made with
    /// [`schedule`](Self::schedule).
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage) when the database fails.
    pub async fn schedules(&self) -> Result<Vec<ScheduleRecord>> {
        self.storage().schedules().await
    }

    /// Deletes schedule `name`; `false` if there is none. The jobs it enqueued stay.
    /// A `#[job(cron = …)]` schedule comes back when a worker starts.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage) when the database fails.
    pub async fn unschedule(&self, name: &str) -> Result<bool> {
        self.storage().delete_schedule(name).await
    }

    /// Pauses schedule `name`: its ticks are skipped until it is resumed. `false` if
    /// there is no such schedule.
    ///
    /// # Examples
    ///
    /// ```
    /// # use kiribi::{job, Kiribi};
    /// # #[job] async fn cleanup(region: String) -> Result<(), String> { Ok(()) }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), kiribi::Error> {
    /// # let dir = tempfile::tempdir().unwrap();
    /// # let url = format!("sqlite://{}", dir.path().join("jobs.db").display());
    /// let kiribi = Kiribi::connect(&url).await?;
    /// kiribi.schedule("cleanup.eu", "0 3 * * *", Cleanup { region: "eu".into() }).await?;
    /// assert!(kiribi.pause_schedule("cleanup.eu").await?);
    /// assert!(kiribi.schedules().await?[0].paused);
    /// assert!(kiribi.resume_schedule("cleanup.eu").await?);
    /// let id = kiribi.run_schedule_now("cleanup.eu").await?.expect("the schedule exists");
    /// assert_eq!(kiribi.job(id).await?.unwrap().schedule.as_deref(), Some("cleanup.eu"));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage) when the database fails.
    pub async fn pause_schedule(&self, name: &str) -> Result<bool> {
        self.storage().set_schedule_paused(name, true, None).await
    }

    /// Resumes schedule `name` from its next tick after now (ticks that passed while
    /// it was paused are skipped). `false` if there is no such schedule.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidOption`](crate::Error::InvalidOption) if the stored cron or
    /// time zone no longer parses, or [`Error::Storage`](crate::Error::Storage).
    pub async fn resume_schedule(&self, name: &str) -> Result<bool> {
        let Some(record) = self.find_schedule(name).await? else {
            return Ok(false);
        };
        let next = CronSpec::parse(&record.cron, &record.timezone)?.next_after(Utc::now())?;
        self.storage()
            .set_schedule_paused(name, false, Some(next))
            .await
    }

    /// Enqueues schedule `name`'s job now, outside its ticks (paused or not), and
    /// returns its id; `None` if there is no such schedule. The job records the
    /// schedule and no tick; the schedule's next tick does not move.
    ///
    /// # Errors
    ///
    /// [`Error::Storage`](crate::Error::Storage) when the database fails.
    pub async fn run_schedule_now(&self, name: &str) -> Result<Option<JobId>> {
        let Some(record) = self.find_schedule(name).await? else {
            return Ok(None);
        };
        let tick = ScheduleTick::now(name, job_of(&record));
        let id = self.storage().enqueue_tick(&tick).await?;
        if id.is_some() {
            crate::metrics::enqueued_one(&tick.job.name, &tick.job.queue);
            self.wake_workers();
        }
        Ok(id)
    }

    async fn find_schedule(&self, name: &str) -> Result<Option<ScheduleRecord>> {
        Ok(self
            .storage()
            .schedules()
            .await?
            .into_iter()
            .find(|record| record.name == name))
    }
}

/// A schedule being made by [`Kiribi::schedule`]: set its time zone and options,
/// then `.await` it to save it (the [`ScheduleRecord`] as stored).
///
/// # Examples
///
/// ```
/// # use kiribi::{job, Kiribi};
/// #[job]
/// async fn report(team: String) -> Result<(), String> { Ok(()) }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), kiribi::Error> {
/// # let dir = tempfile::tempdir().unwrap();
/// # let url = format!("sqlite://{}", dir.path().join("jobs.db").display());
/// let kiribi = Kiribi::connect(&url).await?;
/// let saved = kiribi
///     .schedule("report.tokyo", "0 9 * * 1-5", Report { team: "tokyo".into() })
///     .timezone("Asia/Tokyo")
///     .queue("reports")
///     .paused(true)
///     .await?;
/// assert_eq!((saved.queue.as_str(), saved.paused), ("reports", true));
///
/// let bad = kiribi.schedule("report.x", "0 9 * *", Report { team: "x".into() }).await;
/// assert!(matches!(bad, Err(kiribi::Error::InvalidOption { option: "cron", .. })));
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a schedule is saved only when the builder is awaited"]
pub struct ScheduleBuilder<'a> {
    kiribi: &'a Kiribi,
    name: String,
    cron: String,
    timezone: String,
    job_name: &'static str,
    payload: Result<serde_json::Value>,
    queue: String,
    priority: i32,
    max_attempts: u32,
    paused: Option<bool>,
}

impl ScheduleBuilder<'_> {
    /// Reads the cron expression in `timezone`, an IANA name such as
    /// `"Asia/Tokyo"` (default `"UTC"`); ticks follow its daylight-saving changes as
    /// a wall clock does.
    pub fn timezone(mut self, timezone: impl Into<String>) -> Self {
        self.timezone = timezone.into();
        self
    }

    /// Saves the schedule paused (`true`) or running (`false`). Without it a new
    /// schedule runs and an existing one keeps its state.
    pub fn paused(mut self, paused: bool) -> Self {
        self.paused = Some(paused);
        self
    }

    /// Puts the schedule's jobs in `queue` (default: the job's queue).
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = queue.into();
        self
    }

    /// Gives the schedule's jobs `priority` (default: the job's).
    pub fn priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }

    async fn save(self) -> Result<ScheduleRecord> {
        {
            if self.name.trim().is_empty() {
                return Err(crate::Error::InvalidOption {
                    option: "name",
                    reason: "a schedule's name cannot be empty".to_owned(),
                });
            }
            let spec = CronSpec::parse(&self.cron, &self.timezone)?;
            let next = spec.next_after(Utc::now())?;
            let schedule = NewSchedule::new(self.name, self.job_name, self.cron, next)
                .with_timezone(self.timezone)
                .with_payload(self.payload?)
                .with_queue(self.queue)
                .with_priority(self.priority)
                .with_max_attempts(self.max_attempts)
                .with_paused(self.paused);
            self.kiribi.storage().upsert_schedule(&schedule).await
        }
    }
}

impl<'a> IntoFuture for ScheduleBuilder<'a> {
    type Output = Result<ScheduleRecord>;
    type IntoFuture = BoxFuture<'a, Result<ScheduleRecord>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.save())
    }
}

/// The job a schedule enqueues, as stored with it.
pub(crate) fn job_of(record: &ScheduleRecord) -> NewJob {
    NewJob::new(record.job_name.clone(), record.payload.clone())
        .with_queue(record.queue.clone())
        .with_priority(record.priority)
        .with_max_attempts(record.max_attempts)
}

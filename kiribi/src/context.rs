//! What a running job can reach: `JobContext` and the `State<T>` extractor.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;

use crate::logs::{AttemptOutput, OutputSink};
use crate::worker::cancel::CancelSignal;
use crate::{Error, JobError, JobId, JobStatus, Kiribi, LogLevel};

/// The running attempt's identity, and a way to enqueue follow-up jobs.
///
/// Take it as a parameter of a `#[job]` fn, in any position. It is cheap to clone.
///
/// # Examples
///
/// ```
/// use kiribi::{job, JobContext};
///
/// #[job]
/// async fn notify(user_id: i64) -> Result<(), String> { Ok(()) }
///
/// #[job]
/// async fn sign_up(ctx: JobContext, user_id: i64) -> Result<(), kiribi::Error> {
///     assert!(ctx.attempt() >= 1);
///     Notify::enqueue(&ctx, Notify { user_id }).await?;
///     Ok(())
/// }
/// ```
#[derive(Clone)]
pub struct JobContext {
    inner: Arc<ContextInner>,
}

struct ContextInner {
    id: JobId,
    name: String,
    attempt: u32,
    max_attempts: u32,
    kiribi: Kiribi,
    /// Raised when the job is asked to stop (a cancel of the running job).
    cancel: CancelSignal,
    /// The attempt's log lines and progress, on their way to the database.
    output: AttemptOutput,
}

impl JobContext {
    /// A context nobody cancels, whose output goes to `output`.
    pub(crate) fn new(
        id: JobId,
        name: String,
        attempt: u32,
        max_attempts: u32,
        kiribi: Kiribi,
        output: OutputSink,
    ) -> Self {
        // Nobody holds it to raise it.
        Self::cancellable(
            id,
            name,
            attempt,
            max_attempts,
            kiribi,
            CancelSignal::default(),
            output,
        )
    }

    /// A context that turns cancelled when `cancel` is raised, and whose log lines
    /// and progress go to `output`.
    pub(crate) fn cancellable(
        id: JobId,
        name: String,
        attempt: u32,
        max_attempts: u32,
        kiribi: Kiribi,
        cancel: CancelSignal,
        output: OutputSink,
    ) -> Self {
        Self {
            inner: Arc::new(ContextInner {
                id,
                name,
                attempt,
                max_attempts,
                kiribi,
                cancel,
                output: AttemptOutput::new(output),
            }),
        }
    }

    /// The job's id.
    pub fn id(&self) -> JobId {
        self.inner.id
    }

    /// The job's stable name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// This attempt's number, starting at 1.
    pub fn attempt(&self) -> u32 {
        self.inner.attempt
    }

    /// Total attempts allowed for this job.
    pub fn max_attempts(&self) -> u32 {
        self.inner.max_attempts
    }

    /// The handle the job runs under: read jobs, cancel, enqueue.
    pub fn kiribi(&self) -> &Kiribi {
        &self.inner.kiribi
    }

    /// The stored result of `step`, a dependency of this flow step, as a `T`.
    ///
    /// A step runs only once all its dependencies succeeded, so their results are
    /// there; a dependency that returned `()` or `None` has the result `null`
    /// (read it as `()` or an `Option`).
    ///
    /// # Examples
    ///
    /// ```
    /// use kiribi::{job, JobContext};
    ///
    /// #[derive(serde::Serialize, serde::Deserialize)]
    /// struct User { email: String }
    ///
    /// #[job]
    /// async fn fetch_user(id: i64) -> Result<User, String> {
    ///     Ok(User { email: format!("user{id}@example.com") })
    /// }
    ///
    /// #[job]
    /// async fn send_welcome(ctx: JobContext, user_id: i64) -> anyhow::Result<()> {
    ///     let user: User = ctx.output_of("fetch").await?; // the step named `fetch`
    ///     let _ = (user.email, user_id);
    ///     Ok(())
    /// }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::StepOutput`], naming the step, when this job does not depend on a
    /// step named `step` (or is no flow step: the message lists the steps it does
    /// depend on), when that step has not succeeded, or when its result does not
    /// deserialize into `T` (the message names the type and where in the result it
    /// does not fit; the deserializer's error is the source); [`Error::Storage`] when
    /// the database fails.
    pub async fn output_of<T: serde::de::DeserializeOwned>(&self, step: &str) -> Result<T, Error> {
        let dependencies = self.kiribi().storage().dependencies(self.id()).await?;
        let error = |reason: String, source| Error::StepOutput {
            step: step.to_owned(),
            reason,
            source,
        };
        let Some(found) = dependencies
            .iter()
            .find(|job| job.flow_step.as_deref() == Some(step))
        else {
            let reason = if dependencies.is_empty() {
                format!(
                    "job `{}` ({}) depends on no flow step: only a step added with \
                     `Flow::step_after(.., [\"{step}\"])` can read it",
                    self.name(),
                    self.id()
                )
            } else {
                let names: Vec<String> = dependencies
                    .iter()
                    .map(|job| format!("`{}`", job.flow_step.as_deref().unwrap_or("")))
                    .collect();
                format!(
                    "it is not a dependency of job `{}` ({}), whose dependencies are {}: \
                     add it to the step's `step_after` list or fix the name",
                    self.name(),
                    self.id(),
                    names.join(", ")
                )
            };
            return Err(error(reason, None));
        };
        if found.status != JobStatus::Succeeded {
            return Err(error(
                format!(
                    "it is {}, not succeeded: a step reads only the results of dependencies \
                     that succeeded",
                    found.status
                ),
                None,
            ));
        }
        let result = found.result.clone().unwrap_or(serde_json::Value::Null);
        serde_path_to_error::deserialize(result).map_err(|mismatch| {
            let path = mismatch.path().to_string();
            error(
                format!(
                    "its result (job `{}`, {}) does not deserialize into `{}` at `{path}`: \
                     read it as the type that step returns",
                    found.name,
                    found.id,
                    std::any::type_name::<T>()
                ),
                Some(mismatch.into_inner()),
            )
        })
    }

    /// Whether the job was asked to stop: [`Kiribi::cancel`] of this running job,
    /// from any process. The worker that runs it learns of it within about a second
    /// (sooner on PostgreSQL and on a SQLite file, through the database's
    /// notifications), and from then on this is true.
    ///
    /// A job asked to stop ends `Cancelled` when it returns, whatever it returns,
    /// and is never retried; one that does not return within the worker's
    /// [`cancel_grace`](crate::WorkerBuilder::cancel_grace) is stopped (its future
    /// dropped). A job run inline (`run_now`) is never asked.
    ///
    /// # Examples
    ///
    /// ```
    /// use kiribi::{job, JobContext};
    ///
    /// #[job]
    /// async fn export(ctx: JobContext, rows: u32) -> Result<u32, String> {
    ///     let mut done = 0;
    ///     while done < rows && !ctx.is_cancelled() {
    ///         done += 1; // one row
    ///     }
    ///     Ok(done)
    /// }
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancel.is_raised()
    }

    /// Resolves once the job was asked to stop (see
    /// [`is_cancelled`](Self::is_cancelled)); never, if it is not. Cancel-safe, and
    /// may be awaited from several tasks at once.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use kiribi::{job, JobContext};
    ///
    /// #[job]
    /// async fn long_poll(ctx: JobContext, topic: String) -> Result<(), String> {
    ///     tokio::select! {
    ///         () = ctx.cancelled() => Ok(()), // clean up, then return: the job ends cancelled
    ///         () = tokio::time::sleep(Duration::from_secs(60)) => Ok(()),
    ///     }
    /// }
    /// ```
    pub async fn cancelled(&self) {
        self.inner.cancel.raised().await;
    }
}

impl JobContext {
    /// Adds a line to this attempt's log, at level `info`: read it back with
    /// [`Kiribi::logs`]. Never blocks and never fails the job.
    ///
    /// Lines are buffered and written by the worker in batches, before the
    /// attempt's outcome (so a finished job's lines are all there) and about every
    /// second while it runs. An attempt keeps at most
    /// [`LogLine::MAX_LINES_PER_ATTEMPT`](crate::LogLine::MAX_LINES_PER_ATTEMPT)
    /// (1,000) lines and
    /// [`LogLine::MAX_BYTES_PER_ATTEMPT`](crate::LogLine::MAX_BYTES_PER_ATTEMPT)
    /// (64 KiB) of messages: past either bound, its later lines are dropped and one
    /// last line, at level `warn`, says how many (`… 12 more lines dropped: …`). A
    /// message longer than
    /// [`LogLine::MAX_MESSAGE_BYTES`](crate::LogLine::MAX_MESSAGE_BYTES) (4 KiB) is
    /// cut and ends in `…`. Lines logged after the attempt ended (by a task it left
    /// running) are dropped. With `kiribi::LogLayer` installed (feature
    /// `log-layer`), `tracing` events inside the job are kept the same way.
    ///
    /// # Examples
    ///
    /// ```
    /// use kiribi::{job, JobContext};
    ///
    /// #[job]
    /// async fn import(ctx: JobContext, file: String) -> Result<u64, String> {
    ///     ctx.log(format!("opened {file}"));
    ///     ctx.progress(0.5);
    ///     Ok(10)
    /// }
    /// ```
    pub fn log(&self, message: impl Into<String>) {
        self.log_at(LogLevel::Info, message.into());
    }

    /// Adds a line at `level` (what `LogLayer` does for `tracing` events).
    pub(crate) fn log_at(&self, level: LogLevel, message: String) {
        let inner = &*self.inner;
        inner.output.log(inner.id, inner.attempt, level, message);
    }

    /// Reports how far the job got, from 0.0 (nothing done) to 1.0 (all done):
    /// [`JobRecord::progress`](crate::JobRecord::progress) shows it, within about a
    /// second while the job runs, and after it ended. Never blocks and never fails
    /// the job.
    ///
    /// A value below 0.0 is taken as 0.0 and one above 1.0 as 1.0; NaN is ignored.
    /// The latest report wins; they are written in batches like log lines (see
    /// [`log`](Self::log)), so reporting often costs no more than reporting seldom.
    /// A retried job shows its previous attempt's progress until the new attempt
    /// reports its own.
    ///
    /// # Examples
    ///
    /// ```
    /// use kiribi::{job, JobContext};
    ///
    /// #[job]
    /// async fn resize_all(ctx: JobContext, paths: Vec<String>) -> Result<(), String> {
    ///     for (done, _path) in paths.iter().enumerate() {
    ///         // … resize one …
    ///         ctx.progress((done + 1) as f32 / paths.len() as f32);
    ///     }
    ///     Ok(())
    /// }
    /// ```
    pub fn progress(&self, progress: f32) {
        let inner = &*self.inner;
        inner.output.progress(inner.id, inner.attempt, progress);
    }

    /// Ends the attempt's log: hands over the note of dropped lines, if any. The
    /// worker calls it before it hands the attempt's outcome to the recorder.
    pub(crate) fn close_output(&self) {
        let inner = &*self.inner;
        inner.output.close(inner.id, inner.attempt);
    }
}

impl std::fmt::Debug for JobContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobContext")
            .field("id", &self.inner.id)
            .field("name", &self.inner.name)
            .field("attempt", &self.inner.attempt)
            .finish_non_exhaustive()
    }
}

/// Shared application state, injected into a `#[job]` fn parameter.
///
/// Register the value with [`KiribiBuilder::state`](crate::KiribiBuilder::state); each
/// job attempt gets a clone. A job that asks for a type never registered fails
/// with an error that names the type.
///
/// # Examples
///
/// ```
/// use kiribi::{job, State};
///
/// #[derive(Clone)]
/// struct Mailer { from: String }
///
/// #[job]
/// async fn welcome(State(mailer): State<Mailer>, email: String) -> Result<String, String> {
///     Ok(format!("{} -> {email}", mailer.from))
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), kiribi::Error> {
/// # let dir = tempfile::tempdir().unwrap();
/// # let url = format!("sqlite://{}", dir.path().join("jobs.db").display());
/// let kiribi = kiribi::Kiribi::builder()
///     .state(Mailer { from: "hi@example.com".into() })
///     .connect(&url)
///     .await?;
/// let out = Welcome::run_now(&kiribi, Welcome { email: "a@b.c".into() }).await?;
/// assert_eq!(out, "hi@example.com -> a@b.c");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct State<T>(pub T);

impl<T> std::ops::Deref for State<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T> std::ops::DerefMut for State<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

/// Values registered with `KiribiBuilder::state`, by type.
#[derive(Clone, Default)]
pub(crate) struct StateMap {
    values: HashMap<TypeId, Arc<dyn Any + Send + Sync>>,
}

impl StateMap {
    pub(crate) fn insert<T: Clone + Send + Sync + 'static>(&mut self, value: T) {
        self.values.insert(TypeId::of::<T>(), Arc::new(value));
    }

    pub(crate) fn len(&self) -> usize {
        self.values.len()
    }

    pub(crate) fn get<T: Clone + Send + Sync + 'static>(&self) -> Option<T> {
        self.values
            .get(&TypeId::of::<T>())
            .and_then(|value| value.downcast_ref::<T>())
            .cloned()
    }
}

/// A parameter that kiribi fills in rather than reading from the payload.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be injected into a job",
    label = "kiribi injects only `JobContext` and `State<T>`",
    note = "for `State<T>`, `T` must be `Clone + Send + Sync + 'static`"
)]
pub trait FromContext: Sized {
    /// Extracts the value for one attempt.
    fn from_context(ctx: &JobContext) -> Result<Self, JobError>;
}

impl FromContext for JobContext {
    fn from_context(ctx: &JobContext) -> Result<Self, JobError> {
        Ok(ctx.clone())
    }
}

impl<T: Clone + Send + Sync + 'static> FromContext for State<T> {
    fn from_context(ctx: &JobContext) -> Result<Self, JobError> {
        ctx.kiribi().state::<T>().map(State).ok_or_else(|| {
            JobError::permanent(Error::MissingState {
                type_name: std::any::type_name::<T>(),
            })
        })
    }
}

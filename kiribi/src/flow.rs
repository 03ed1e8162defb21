//! `Flow`: jobs that wait for other jobs, enqueued together.

use kiribi_core::backend::{NewFlow, NewFlowStep};
use kiribi_core::{EnqueueOptions, FlowId};

use crate::enqueue::{Enqueue, new_job};
use crate::{Error, Job, Result};

/// A graph of jobs to enqueue together: each step is a job, and a step runs once
/// every step it depends on has succeeded.
///
/// Build it with [`step`](Self::step) and [`step_after`](Self::step_after), then
/// [`enqueue`](Self::enqueue) it through any [`Enqueue`] target (`&Kiribi`,
/// `&JobContext`, or `&mut *tx` of the application's own transaction): every step is
/// stored in one transaction, or none is. Steps without dependencies are `Pending`
/// at once; the others are `Blocked` until all their dependencies succeed, then
/// `Pending`, and run in parallel wherever the graph allows, on any worker of any
/// process. The database does the unblocking, in the transaction that records a
/// dependency's success, so no crash can lose or double a step.
///
/// A step that ends `Failed` or `Cancelled` cancels the steps that depend on it,
/// transitively, with an error naming it ("dependency `fetch` failed");
/// [`Kiribi::retry`](crate::Kiribi::retry) of that step makes them wait again, so
/// the flow can still finish. Inside a step,
/// [`JobContext::output_of`](crate::JobContext::output_of) reads a dependency's
/// result. [`Kiribi::flow`](crate::Kiribi::flow) reads the flow back, with a status
/// derived from its steps ([`FlowStatus`](crate::FlowStatus)).
///
/// # Examples
///
/// ```
/// use kiribi::{job, Flow, FlowStatus, JobContext, Kiribi};
///
/// #[job]
/// async fn fetch_user(id: i64) -> Result<String, String> { Ok(format!("user{id}@example.com")) }
///
/// #[job]
/// async fn send_welcome(ctx: JobContext, user_id: i64) -> anyhow::Result<()> {
///     let email: String = ctx.output_of("fetch").await?;
///     println!("welcome, {email} ({user_id})");
///     Ok(())
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), kiribi::Error> {
/// # let dir = tempfile::tempdir().unwrap();
/// # let url = format!("sqlite://{}", dir.path().join("jobs.db").display());
/// let kiribi = Kiribi::connect(&url).await?;
/// let flow_id = Flow::new("onboard user 7")
///     .step("fetch", FetchUser { id: 7 })
///     .step_after("welcome", SendWelcome { user_id: 7 }, ["fetch"])
///     .enqueue(&kiribi)
///     .await?;
///
/// let flow = kiribi.flow(flow_id).await?.expect("just enqueued");
/// assert_eq!(flow.status, FlowStatus::Running);
/// assert_eq!(flow.step("welcome").unwrap().depends_on, ["fetch"]);
///
/// // A mistake in the graph is an error before anything is stored:
/// let cycle = Flow::new("broken")
///     .step_after("a", FetchUser { id: 1 }, ["b"])
///     .step_after("b", FetchUser { id: 2 }, ["a"])
///     .enqueue(&kiribi)
///     .await;
/// assert!(matches!(cycle, Err(kiribi::Error::InvalidFlow { .. })));
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a flow does nothing until it is enqueued"]
pub struct Flow {
    flow: NewFlow,
    /// The first step whose job could not be turned into a stored job (its payload
    /// did not serialize, say): reported by `enqueue`.
    error: Option<Error>,
}

impl Flow {
    /// An empty flow named `name` (for people: names need not be unique).
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            flow: NewFlow::new(name),
            error: None,
        }
    }

    /// Adds step `name`, which runs `job` with no dependency.
    pub fn step<J: Job>(self, name: impl Into<String>, job: J) -> Self {
        self.add(name.into(), &job, None, Vec::new())
    }

    /// Adds step `name`, which runs `job` once every step named in `after` has
    /// succeeded. The steps may be added in any order: `enqueue` checks the names.
    pub fn step_after<J, I, S>(self, name: impl Into<String>, job: J, after: I) -> Self
    where
        J: Job,
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let after = after.into_iter().map(Into::into).collect();
        self.add(name.into(), &job, None, after)
    }

    /// [`step_after`](Self::step_after) with `options` over the job's declared
    /// defaults (queue, priority, attempts, a delay counted from the enqueue). A
    /// unique key is refused: a step cannot be deduplicated away.
    pub fn step_with<J, I, S>(
        self,
        name: impl Into<String>,
        job: J,
        after: I,
        options: EnqueueOptions,
    ) -> Self
    where
        J: Job,
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let after = after.into_iter().map(Into::into).collect();
        self.add(name.into(), &job, Some(&options), after)
    }

    fn add<J: Job>(
        mut self,
        name: String,
        job: &J,
        options: Option<&EnqueueOptions>,
        after: Vec<String>,
    ) -> Self {
        match new_job(job, options) {
            Ok(new) => {
                let step = NewFlowStep::new(name, new).with_depends_on(after);
                self.flow.steps.push(step);
            }
            Err(error) => {
                self.error.get_or_insert(error);
            }
        }
        self
    }

    /// Stores every step of the flow, in one transaction, through `target`, and
    /// returns the flow's id. Through `&mut *tx` of the application's transaction,
    /// the flow exists iff that transaction commits.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidFlow`] before anything is stored, for a flow without steps,
    /// a duplicate step name, an unknown dependency, a cycle, or a unique job as a
    /// step; [`Error::Serialization`] when a step's payload does not serialize;
    /// [`Error::InvalidOption`] for bad [`EnqueueOptions`]; [`Error::Storage`]
    /// when the database fails (nothing of the flow is stored then).
    pub async fn enqueue<E: Enqueue>(self, target: E) -> Result<FlowId> {
        if let Some(error) = self.error {
            return Err(error);
        }
        self.flow.plan()?;
        let counted = crate::metrics::Enqueuing::new(self.flow.steps.iter().map(|step| &step.job));
        let id = target.enqueue_flow(self.flow).await?;
        counted.inserted(None);
        Ok(id)
    }
}

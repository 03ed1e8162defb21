//! What `#[job]` expansions name: `::kiribi::__private::…`. Not a public API.

pub use ::inventory;
pub use ::serde;
pub use std::time::Duration;

pub use crate::classify::{
    DeserializeArgument, ErrorChain, ErrorChainKind, ErrorMessage, JobReturn, Other, OtherKind,
    SerializeArgument, Typed, TypedKind, deserialize_argument, into_job_error, serialize_argument,
};
pub use crate::context::FromContext;
pub use crate::job::BoxFuture;
pub use crate::registry::Registration;
pub use crate::{
    Backoff, Enqueue, EnqueueOptions, Enqueued, Error, Job, JobConfig, JobContext, JobError, JobId,
    Kiribi, RateLimit, Unique,
};

use crate::Result;

/// `MyJob::enqueue(target, job)`.
pub fn enqueue<'a, J: Job, E: Enqueue + 'a>(target: E, job: J) -> BoxFuture<'a, Result<JobId>> {
    crate::enqueue::enqueue(target, job)
}

/// `MyJob::enqueue_with(target, job, options)`.
pub fn enqueue_with<'a, J: Job, E: Enqueue + 'a>(
    target: E,
    job: J,
    options: EnqueueOptions,
) -> BoxFuture<'a, Result<JobId>> {
    crate::enqueue::enqueue_with(target, job, Some(options))
}

/// `MyJob::insert(target, job, options)`.
pub fn insert<'a, J: Job, E: Enqueue + 'a>(
    target: E,
    job: J,
    options: EnqueueOptions,
) -> BoxFuture<'a, Result<Enqueued>> {
    crate::enqueue::insert(target, job, Some(options))
}

/// `MyJob::enqueue_many(target, jobs)`.
pub fn enqueue_many<'a, J: Job, E: Enqueue + 'a>(
    target: E,
    jobs: impl IntoIterator<Item = J>,
) -> BoxFuture<'a, Result<Vec<JobId>>> {
    crate::enqueue::enqueue_many(target, jobs)
}

/// `MyJob::run_now(kiribi, job)`.
pub fn run_now<J: Job>(kiribi: &Kiribi, job: J) -> BoxFuture<'_, Result<J::Output>> {
    Box::pin(crate::run::run_now(kiribi, job))
}

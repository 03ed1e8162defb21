//! The web dashboard (feature `dashboard`): an axum [`Router`] over a [`Kiribi`]
//! handle, to mount in an application or serve with `kiribi serve`.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), kiribi::Error> {
//! # let dir = tempfile::tempdir().unwrap();
//! # let url = format!("sqlite://{}", dir.path().join("jobs.db").display());
//! use kiribi::dashboard::axum;
//!
//! let kiribi = kiribi::Kiribi::connect(&url).await?;
//! // Every page under /admin/jobs, with every action:
//! let app: axum::Router = axum::Router::new().nest("/admin/jobs", kiribi::dashboard::router(kiribi.clone()));
//! // Or with a token (`?token=…` once, or `Authorization: Bearer …`) and no actions:
//! let ops = kiribi::dashboard::dashboard(kiribi).token("s3cret").read_only(true).router();
//! # let _ = (app, ops);
//! # Ok(()) }
//! ```
//!
//! See the [`kiribi_dashboard`] crate for the pages and the security it applies.

use std::time::Duration;

use kiribi_core::backend::async_trait;

use crate::{
    AttemptRecord, FlowFilter, FlowId, FlowRecord, JobFilter, JobId, JobRecord, Kiribi, LogLine,
    QueueInfo, Result, ScheduleRecord, Stats,
};

pub use kiribi_dashboard::{Dashboard, Operations, Router, axum};

/// The dashboard over `kiribi` with the defaults (no token, actions allowed), as an
/// axum router to [`nest`](axum::Router::nest) under a path of an application.
///
/// Mount it behind the application's own authentication, or use [`dashboard`] and
/// [`Dashboard::token`].
pub fn router(kiribi: Kiribi) -> Router {
    dashboard(kiribi).router()
}

/// A dashboard builder over `kiribi`: set a [`token`](Dashboard::token) or
/// [`read_only`](Dashboard::read_only), then take its [`router`](Dashboard::router).
pub fn dashboard(kiribi: Kiribi) -> Dashboard<Kiribi> {
    Dashboard::new(kiribi)
}

#[async_trait]
impl Operations for Kiribi {
    async fn job(&self, id: JobId) -> Result<Option<JobRecord>> {
        Kiribi::job(self, id).await
    }
    async fn jobs(&self, filter: JobFilter) -> Result<Vec<JobRecord>> {
        Kiribi::jobs(self, filter).await
    }
    async fn count(&self, filter: JobFilter) -> Result<u64> {
        Kiribi::count(self, filter).await
    }
    async fn attempts(&self, id: JobId) -> Result<Vec<AttemptRecord>> {
        Kiribi::attempts(self, id).await
    }
    async fn logs(&self, id: JobId) -> Result<Vec<LogLine>> {
        Kiribi::logs(self, id).await
    }
    async fn retry(&self, id: JobId) -> Result<bool> {
        Kiribi::retry(self, id).await
    }
    async fn cancel(&self, id: JobId) -> Result<bool> {
        Kiribi::cancel(self, id).await
    }
    async fn delete(&self, id: JobId) -> Result<bool> {
        Kiribi::delete(self, id).await
    }
    async fn make_due(&self, id: JobId) -> Result<bool> {
        Kiribi::make_due(self, id).await
    }
    async fn flow(&self, id: FlowId) -> Result<Option<FlowRecord>> {
        Kiribi::flow(self, id).await
    }
    async fn flows(&self, filter: FlowFilter) -> Result<Vec<FlowRecord>> {
        Kiribi::flows(self, filter).await
    }
    async fn cancel_flow(&self, id: FlowId) -> Result<u64> {
        Kiribi::cancel_flow(self, id).await
    }
    async fn queues(&self) -> Result<Vec<QueueInfo>> {
        Kiribi::queues(self).await
    }
    async fn pause_queue(&self, queue: &str) -> Result<bool> {
        Kiribi::pause_queue(self, queue).await
    }
    async fn resume_queue(&self, queue: &str) -> Result<bool> {
        Kiribi::resume_queue(self, queue).await
    }
    async fn stats(&self, window: Duration) -> Result<Stats> {
        Kiribi::stats(self, window).await
    }
    async fn schedules(&self) -> Result<Vec<ScheduleRecord>> {
        Kiribi::schedules(self).await
    }
    async fn pause_schedule(&self, name: &str) -> Result<bool> {
        Kiribi::pause_schedule(self, name).await
    }
    async fn resume_schedule(&self, name: &str) -> Result<bool> {
        Kiribi::resume_schedule(self, name).await
    }
    async fn run_schedule_now(&self, name: &str) -> Result<Option<JobId>> {
        Kiribi::run_schedule_now(self, name).await
    }
}

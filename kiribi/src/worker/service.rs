//! Periodic work beside dispatch: the small interface every maintenance service
//! implements, and the task that runs one.
//!
//! A service (lease heartbeat, reaping; later cron ticks, retention, rollups,
//! metrics) is started with the worker and stopped with it. A new periodic feature
//! adds a file with a [`Service`] and one line in [`super::services`]; it does not
//! edit dispatch.

use std::time::Duration;

use kiribi_core::backend::async_trait;
use tokio::task::JoinSet;

use crate::Kiribi;
use crate::worker::{WorkerLog, WorkerShared};

/// What a service can reach: the handle, and what the worker shares with it.
pub(crate) struct ServiceContext {
    /// The handle the worker runs under.
    pub(crate) kiribi: Kiribi,
    /// The worker's id, settings and health.
    pub(crate) worker: WorkerShared,
}

/// A piece of periodic work that runs while its worker runs.
#[async_trait]
pub(crate) trait Service: Send + Sync + 'static {
    /// Its name in logs.
    fn name(&self) -> &'static str;

    /// How long to wait between the end of one tick and the start of the next.
    fn period(&self, ctx: &ServiceContext) -> Duration;

    /// One round of work. An error is logged with the service's name; the service
    /// runs on at its next period.
    async fn tick(&self, ctx: &ServiceContext) -> kiribi_core::Result<()>;
}

/// Spawns each service into `tasks`, ticking once at start and then every period,
/// until the set is aborted with the worker.
pub(crate) fn spawn_all(
    services: Vec<Box<dyn Service>>,
    kiribi: &Kiribi,
    worker: &WorkerShared,
    tasks: &mut JoinSet<()>,
) {
    for service in services {
        let ctx = ServiceContext {
            kiribi: kiribi.clone(),
            worker: worker.clone(),
        };
        tasks.spawn(run(service, ctx));
    }
}

async fn run(service: Box<dyn Service>, ctx: ServiceContext) {
    let log: &WorkerLog = &ctx.worker.log;
    loop {
        if let Err(err) = service.tick(&ctx).await {
            log.warn_from(
                service.name(),
                "failed; trying again at its next period",
                &err,
            );
        }
        tokio::time::sleep(service.period(&ctx)).await;
    }
}

//! The lease heartbeat: renews the leases of the worker's jobs every third of a
//! lease, so that they stay its own while they run.

use std::time::Duration;

use kiribi_core::backend::async_trait;

use crate::worker::service::{Service, ServiceContext};

/// Renews this worker's leases.
pub(crate) struct Heartbeat;

#[async_trait]
impl Service for Heartbeat {
    fn name(&self) -> &'static str {
        "lease heartbeat"
    }

    fn period(&self, ctx: &ServiceContext) -> Duration {
        ctx.worker.config.lease / 3
    }

    async fn tick(&self, ctx: &ServiceContext) -> kiribi_core::Result<()> {
        let worker = &ctx.worker;
        ctx.kiribi
            .storage()
            .renew_leases(&worker.id, worker.config.lease)
            .await?;
        worker.health.answered();
        Ok(())
    }
}

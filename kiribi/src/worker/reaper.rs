//! The reaper: takes back the jobs of workers that stopped renewing their leases,
//! with what the failure policy decides for each (see [`crate::policy`]).

use std::time::Duration;

use kiribi_core::backend::async_trait;

use crate::policy::after_lost_lease;
use crate::worker::service::{Service, ServiceContext};

/// Takes back expired leases, every third of this worker's lease.
pub(crate) struct Reaper;

#[async_trait]
impl Service for Reaper {
    fn name(&self) -> &'static str {
        "reaper"
    }

    fn period(&self, ctx: &ServiceContext) -> Duration {
        ctx.worker.config.lease / 3
    }

    async fn tick(&self, ctx: &ServiceContext) -> kiribi_core::Result<()> {
        let reaped = ctx.kiribi.storage().reap_expired(&after_lost_lease).await?;
        if reaped > 0 {
            tracing::warn!(worker = %ctx.worker.id, jobs = reaped, "took back jobs whose worker stopped renewing its lease");
            // Interrupted jobs are ready at once.
            ctx.kiribi.wake_workers();
        }
        Ok(())
    }
}

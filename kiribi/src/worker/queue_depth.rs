//! Queue depth for the `metrics` facade (feature `metrics`): every worker reports
//! what [`Kiribi::queues`](crate::Kiribi::queues) says, every
//! [`QUEUE_DEPTH_PERIOD`], as gauges labelled `queue` (see [`crate::metrics`]).
//! Every process reports the same figures of the shared database: aggregate them
//! with `max`, not `sum`.

use std::time::Duration;

use kiribi_core::backend::async_trait;

use crate::worker::service::{Service, ServiceContext};

/// How often a worker reads the queues for their gauges: one grouped read of the
/// jobs table per worker, so not as often as a scrape might come.
pub(crate) const QUEUE_DEPTH_PERIOD: Duration = Duration::from_secs(10);

/// Sets the queue gauges.
pub(crate) struct QueueDepth;

#[async_trait]
impl Service for QueueDepth {
    fn name(&self) -> &'static str {
        "queue depth"
    }

    fn period(&self, _: &ServiceContext) -> Duration {
        QUEUE_DEPTH_PERIOD
    }

    async fn tick(&self, ctx: &ServiceContext) -> kiribi_core::Result<()> {
        for queue in ctx.kiribi.queues().await? {
            crate::metrics::queue_depth(&queue);
        }
        Ok(())
    }
}

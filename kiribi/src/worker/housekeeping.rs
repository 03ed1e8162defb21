//! Housekeeping: rolling finished jobs up into the statistics, then pruning what
//! the handle's retention no longer keeps (see the *Rollups* and *Retention*
//! parts of the `Storage` contract).

use std::time::Duration;

use kiribi_core::backend::async_trait;

use crate::worker::service::{Service, ServiceContext};

/// Jobs deleted per prune transaction: short enough that claims and enqueues
/// waiting for SQLite's write lock, or for a PostgreSQL index page, barely notice.
const PRUNE_BATCH: u32 = 500;

/// The most roll-up or prune transactions one tick runs, so that a long backlog
/// (a database from before rollups, a retention just shortened) is worked off over
/// several ticks rather than in one go.
const MAX_ROUNDS: usize = 100;

/// Rolls up, then prunes, every `housekeeping_interval`.
pub(crate) struct Housekeeping;

#[async_trait]
impl Service for Housekeeping {
    fn name(&self) -> &'static str {
        "housekeeping"
    }

    fn period(&self, ctx: &ServiceContext) -> Duration {
        ctx.worker.config.housekeeping_interval
    }

    async fn tick(&self, ctx: &ServiceContext) -> kiribi_core::Result<()> {
        let storage = ctx.kiribi.storage();
        let mut rolled = 0;
        for _ in 0..MAX_ROUNDS {
            let progress = storage.roll_up(ctx.worker.config.rollup_lag).await?;
            rolled += progress.jobs;
            if progress.caught_up {
                break;
            }
        }
        let retention = ctx.kiribi.retention();
        let mut pruned = 0;
        if !retention.keeps_everything() {
            for _ in 0..MAX_ROUNDS {
                // A call deletes up to a batch of jobs and a few whole flows; the
                // next one finds what is left, until one finds nothing.
                let deleted = storage.prune(retention, PRUNE_BATCH).await?;
                pruned += deleted;
                if deleted == 0 {
                    break;
                }
                // Let waiting claims and enqueues in between batches.
                tokio::task::yield_now().await;
            }
        }
        if rolled > 0 || pruned > 0 {
            tracing::debug!(worker = %ctx.worker.id, rolled, pruned, "housekeeping");
        }
        Ok(())
    }
}

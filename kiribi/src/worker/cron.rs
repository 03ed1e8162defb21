//! The cron service: declares the `#[job(cron = …)]` schedules when the worker
//! starts, then enqueues each schedule's due tick, sleeping until the next known
//! tick so that a tick is enqueued within milliseconds of its time.
//!
//! Every worker of every process runs it; the database lets one of them enqueue
//! each tick (see [`Storage::enqueue_tick`](crate::Storage::enqueue_tick)), so a
//! process that stops hands over by simply no longer trying.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use kiribi_core::backend::async_trait;

use crate::schedule::ticks;
use crate::worker::service::{Service, ServiceContext};

/// How long the service sleeps at most: schedules made or changed by other
/// processes are seen within this.
const POLL: Duration = Duration::from_secs(1);

/// Slept past a tick, so that the clock read at wake-up has passed it too.
const MARGIN: Duration = Duration::from_millis(1);

/// Enqueues cron ticks.
#[derive(Default)]
pub(crate) struct CronTicks {
    /// Whether this worker's `#[job(cron = …)]` schedules are in the database.
    declared: AtomicBool,
    /// The earliest next tick seen in the last round.
    next: Mutex<Option<DateTime<Utc>>>,
}

impl CronTicks {
    fn set_next(&self, next: Option<DateTime<Utc>>) {
        *self
            .next
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = next;
    }
}

/// How long to sleep at `now` when the next known tick is `next`.
fn sleep_for(next: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Duration {
    match next {
        None => POLL,
        Some(next) => (next - now)
            .to_std()
            .map_or(Duration::ZERO, |wait| wait + MARGIN)
            .min(POLL),
    }
}

#[async_trait]
impl Service for CronTicks {
    fn name(&self) -> &'static str {
        "cron"
    }

    fn period(&self, _ctx: &ServiceContext) -> Duration {
        let next = *self
            .next
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        sleep_for(next, Utc::now())
    }

    async fn tick(&self, ctx: &ServiceContext) -> kiribi_core::Result<()> {
        // Until a round succeeds, poll rather than trust an old next tick.
        self.set_next(None);
        if !self.declared.load(Ordering::Relaxed) {
            let declared = ticks::declare_registered(&ctx.kiribi).await?;
            if declared > 0 {
                tracing::info!(worker = %ctx.worker.id, schedules = declared, "declared cron schedules");
            }
            self.declared.store(true, Ordering::Relaxed);
        }
        let next = ticks::enqueue_due(&ctx.kiribi).await?;
        self.set_next(next);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleeps_until_the_next_tick_but_never_past_a_poll() {
        let now = Utc::now();
        assert_eq!(sleep_for(None, now), POLL);
        assert_eq!(
            sleep_for(Some(now + chrono::Duration::milliseconds(300)), now),
            Duration::from_millis(300) + MARGIN
        );
        assert_eq!(sleep_for(Some(now + chrono::Duration::hours(1)), now), POLL);
        assert_eq!(
            sleep_for(Some(now - chrono::Duration::seconds(1)), now),
            Duration::ZERO
        );
    }
}

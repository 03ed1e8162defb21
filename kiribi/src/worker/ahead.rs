//! How far a worker claims ahead of its free slots: a plain type, decided from
//! what the worker saw while its last claim was on its way.
//!
//! Short jobs with a backlog should start one after another without a round trip
//! each, so the worker holds some jobs claimed ahead; jobs that outlast a round trip
//! should not be held at all, so that they never wait on a busy worker while another
//! one idles. The buffer is sized from the jobs that finished while the last claim
//! was in flight (see [`next_ahead`]).

/// The claim-ahead state of one worker.
#[derive(Debug, Clone)]
pub(crate) struct ClaimAhead {
    /// The most jobs held ahead of the free slots.
    prefetch: usize,
    /// How many jobs to hold ahead now.
    ahead: usize,
    /// The worker's finished count when the claim in flight was sent.
    finished_at_send: usize,
}

impl ClaimAhead {
    /// No jobs ahead yet, at most `prefetch`.
    pub(crate) fn new(prefetch: usize) -> Self {
        Self {
            prefetch,
            ahead: 0,
            finished_at_send: 0,
        }
    }

    /// How many jobs to ask for now, given the worker's `concurrency`, its `running`
    /// jobs and the jobs it holds `buffered` (claimed, not started); `None` when a
    /// claim is not worth its round trip yet.
    ///
    /// A claim is worth it when a slot would otherwise idle, or once half the
    /// capacity is free: one round trip then serves many jobs.
    pub(crate) fn wanted(
        &self,
        concurrency: usize,
        running: usize,
        buffered: usize,
    ) -> Option<usize> {
        let capacity = concurrency + self.ahead;
        let wanted = capacity.saturating_sub(running + buffered);
        let worth_it = buffered == 0 || wanted >= capacity / 2;
        (wanted > 0 && worth_it).then_some(wanted)
    }

    /// A claim was sent when the worker had finished `finished` jobs.
    pub(crate) fn sent(&mut self, finished: usize) {
        self.finished_at_send = finished;
    }

    /// The claim came back when the worker had finished `finished` jobs; it
    /// `ran_dry` if it had nothing left to start while the claim was away.
    pub(crate) fn returned(&mut self, finished: usize, ran_dry: bool) {
        let finished_meanwhile = finished.saturating_sub(self.finished_at_send);
        self.ahead = next_ahead(self.ahead, finished_meanwhile, ran_dry, self.prefetch);
    }

    /// How many jobs the worker holds ahead now.
    #[cfg(test)]
    pub(crate) fn ahead(&self) -> usize {
        self.ahead
    }
}

/// How many jobs to hold claimed ahead after a claim came back, up to `prefetch`.
///
/// At least twice as many as `finished` while the claim was in flight. When the
/// worker `ran_dry` during the claim while jobs kept finishing, the buffer did not
/// cover the round trip: twice as many as before. Otherwise a quarter fewer, so one
/// claim that comes back quickly does not empty the buffer. Jobs that finish within a
/// round trip earn a buffer; jobs that outlast it get none.
fn next_ahead(ahead: usize, finished: usize, ran_dry: bool, prefetch: usize) -> usize {
    let kept = if ran_dry && finished > 0 {
        2 * ahead
    } else {
        ahead - ahead.div_ceil(4)
    };
    kept.max(2 * finished).min(prefetch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_that_outlast_a_round_trip_are_not_claimed_ahead() {
        assert_eq!(next_ahead(0, 0, false, 320), 0);
        // The first claim of an idle worker: nothing could finish meanwhile.
        assert_eq!(next_ahead(0, 0, true, 320), 0);
    }

    #[test]
    fn running_dry_while_jobs_finish_doubles_the_buffer() {
        assert_eq!(next_ahead(40, 12, true, 320), 80);
        assert_eq!(next_ahead(0, 5, true, 320), 10);
        assert_eq!(next_ahead(200, 30, true, 320), 320, "capped by prefetch");
        assert_eq!(next_ahead(40, 12, true, 0), 0, "prefetch 0 turns it off");
    }

    #[test]
    fn one_quick_claim_shrinks_the_buffer_by_a_quarter() {
        assert_eq!(next_ahead(256, 0, false, 256), 192);
        assert_eq!(next_ahead(256, 150, false, 256), 256);
        // Never below twice what finished during the claim.
        assert_eq!(next_ahead(8, 30, false, 256), 60);
        // Down to none once jobs stop finishing within a round trip.
        let mut ahead = 256;
        for _ in 0..30 {
            ahead = next_ahead(ahead, 0, false, 256);
        }
        assert_eq!(ahead, 0);
    }

    #[test]
    fn a_claim_is_sent_when_a_slot_would_idle_or_half_is_free() {
        let mut state = ClaimAhead::new(640);
        assert_eq!(state.wanted(10, 0, 0), Some(10), "idle worker");
        assert_eq!(
            state.wanted(10, 10, 0),
            None,
            "every slot busy, nothing ahead"
        );
        state.sent(0);
        state.returned(20, true);
        assert_eq!(state.ahead(), 40);
        // Capacity 50: with 10 running and 30 held, 10 are wanted, not worth it yet.
        assert_eq!(state.wanted(10, 10, 30), None);
        assert_eq!(state.wanted(10, 10, 10), Some(30));
    }
}

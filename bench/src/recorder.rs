//! What the jobs of one process did: how many ran, which ones, and how late they started.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// The small JSON payload of every benchmark job.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(crate) struct Payload {
    /// The job's number within a run, `0..n`: to check every job ran exactly once.
    pub(crate) seq: u64,
    /// When it was enqueued, Unix microseconds; 0 when latency is not measured.
    pub(crate) enq_us: i64,
}

impl Payload {
    pub(crate) fn new(seq: u64) -> Self {
        Self { seq, enq_us: 0 }
    }

    pub(crate) fn json(&self) -> String {
        serde_json::to_string(self).expect("a payload serializes")
    }
}

/// Microseconds since the Unix epoch on this machine's clock.
pub(crate) fn now_us() -> i64 {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// Counts executions. Every contender's job body calls [`Recorder::record`].
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    executed: AtomicU64,
    track_seqs: bool,
    seqs: Mutex<Vec<u64>>,
    latencies_us: Mutex<Vec<i64>>,
    starts: Mutex<Vec<Start>>,
    /// W9: the jobs of each key running now, and the most ever seen at once.
    per_key: Mutex<(std::collections::HashMap<u64, u32>, u32)>,
}

/// When one attempt of a timed job (W7) started; its due time comes from the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Start {
    pub(crate) seq: u64,
    pub(crate) attempt: u32,
    pub(crate) at_us: i64,
}

impl Recorder {
    /// `track_seqs`: remember every job's `seq` (off for the 1M-job RSS run, whose
    /// memory we measure).
    pub(crate) fn new(track_seqs: bool) -> Self {
        Self {
            track_seqs,
            ..Self::default()
        }
    }

    /// Called once per execution, at the start of the job body.
    pub(crate) fn record(&self, payload: Payload) {
        if payload.enq_us > 0 {
            let late = now_us() - payload.enq_us;
            self.latencies_us.lock().expect("not poisoned").push(late);
        }
        if self.track_seqs {
            self.seqs.lock().expect("not poisoned").push(payload.seq);
        }
        self.executed.fetch_add(1, Ordering::Relaxed);
    }

    /// Called by a timed job (W7) first thing in each attempt, `at_us` taken before
    /// anything else the attempt does.
    pub(crate) fn record_start(&self, start: Start) {
        self.starts.lock().expect("not poisoned").push(start);
    }

    /// Attempts of timed jobs started so far.
    pub(crate) fn started(&self) -> u64 {
        let n = self.starts.lock().expect("not poisoned").len();
        u64::try_from(n).unwrap_or(u64::MAX)
    }

    pub(crate) fn take_starts(&self) -> Vec<Start> {
        std::mem::take(&mut *self.starts.lock().expect("not poisoned"))
    }

    pub(crate) fn executed(&self) -> u64 {
        self.executed.load(Ordering::Relaxed)
    }

    pub(crate) fn take_seqs(&self) -> Vec<u64> {
        std::mem::take(&mut *self.seqs.lock().expect("not poisoned"))
    }

    /// W9: a job of `key` starts; call [`key_ended`](Self::key_ended) when it ends.
    pub(crate) fn key_started(&self, key: u64) {
        let mut guard = self.per_key.lock().expect("not poisoned");
        let (running, most) = &mut *guard;
        let now = running.entry(key).or_default();
        *now += 1;
        *most = (*most).max(*now);
    }

    /// W9: a job of `key` ends.
    pub(crate) fn key_ended(&self, key: u64) {
        let mut guard = self.per_key.lock().expect("not poisoned");
        if let Some(now) = guard.0.get_mut(&key) {
            *now -= 1;
        }
    }

    /// W9: the most jobs of one key seen running at once.
    pub(crate) fn most_per_key(&self) -> u32 {
        self.per_key.lock().expect("not poisoned").1
    }

    pub(crate) fn take_latencies_us(&self) -> Vec<i64> {
        std::mem::take(&mut *self.latencies_us.lock().expect("not poisoned"))
    }
}

/// Checks that `seqs` (from every process) hold each of `0..n` exactly once.
pub(crate) fn check_exactly_once(n: u64, seqs: &[u64]) -> anyhow::Result<()> {
    let len = usize::try_from(n)?;
    let mut counts = vec![0u32; len];
    let mut out_of_range = 0usize;
    for &s in seqs {
        match usize::try_from(s).ok().and_then(|i| counts.get_mut(i)) {
            Some(c) => *c += 1,
            None => out_of_range += 1,
        }
    }
    let missing = counts.iter().filter(|&&c| c == 0).count();
    let duplicated = counts.iter().filter(|&&c| c > 1).count();
    anyhow::ensure!(
        missing == 0 && duplicated == 0 && out_of_range == 0,
        "not exactly once: {missing} jobs never ran, {duplicated} ran more than once, \
         {out_of_range} unknown"
    );
    Ok(())
}

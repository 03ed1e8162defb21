//! Log lines and progress of running attempts: the bound each attempt keeps, and the
//! buffer a worker's attempts hand them to, which the worker's recorder writes in
//! batches with (before) the outcomes it records.
//!
//! Nothing here runs for an attempt that neither logs nor reports progress: its
//! context carries an empty [`AttemptOutput`] (no allocation) and the recorder
//! checks one flag per batch.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::Utc;
use kiribi_core::{JobId, LogLevel, LogLine, NewLogLine, ProgressUpdate, Storage};
use tokio::sync::Notify;

use crate::Result;

/// How many lines an attempt keeps, and how many it dropped past the bound of
/// [`LogLine::MAX_LINES_PER_ATTEMPT`] lines and [`LogLine::MAX_BYTES_PER_ATTEMPT`]
/// bytes: the kept lines are the attempt's first ones, and once one is dropped every
/// later one is too, so the note at the end says exactly what is missing.
#[derive(Debug, Default)]
pub(crate) struct AttemptLog {
    kept: u32,
    bytes: usize,
    dropped: u64,
    closed: bool,
}

impl AttemptLog {
    /// The `seq` of a line of `len` bytes if it is kept, `None` if it is dropped
    /// (past the bound, or after the attempt ended).
    pub(crate) fn admit(&mut self, len: usize) -> Option<u32> {
        if self.closed {
            return None;
        }
        let fits = self.kept < LogLine::MAX_LINES_PER_ATTEMPT
            && self.bytes.saturating_add(len) <= LogLine::MAX_BYTES_PER_ATTEMPT;
        if self.dropped > 0 || !fits {
            self.dropped += 1;
            return None;
        }
        let seq = self.kept;
        self.kept += 1;
        self.bytes += len;
        Some(seq)
    }

    /// Ends the attempt's log (later lines are dropped): the `seq` and message of
    /// the note that says how many lines were dropped, if any were.
    pub(crate) fn close(&mut self) -> Option<(u32, String)> {
        if std::mem::replace(&mut self.closed, true) || self.dropped == 0 {
            return None;
        }
        let note = format!(
            "… {} more lines dropped: an attempt keeps at most {} lines and {} KiB of log",
            self.dropped,
            LogLine::MAX_LINES_PER_ATTEMPT,
            LogLine::MAX_BYTES_PER_ATTEMPT / 1024,
        );
        Some((self.kept, note))
    }

    /// Whether the attempt ended.
    fn is_closed(&self) -> bool {
        self.closed
    }
}

/// What one attempt's context keeps of its output: where it goes, and its bound.
#[derive(Debug)]
pub(crate) struct AttemptOutput {
    sink: OutputSink,
    /// Whether the attempt logged or reported progress at all: ending an attempt
    /// that did neither takes no lock.
    touched: AtomicBool,
    log: Mutex<AttemptLog>,
}

impl AttemptOutput {
    /// An attempt's output, handed to `sink`.
    pub(crate) fn new(sink: OutputSink) -> Self {
        Self {
            sink,
            touched: AtomicBool::new(false),
            log: Mutex::new(AttemptLog::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, AttemptLog> {
        self.touched.store(true, Ordering::Relaxed);
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Hands a line of attempt `attempt` of job `job_id` over, within the bound.
    pub(crate) fn log(&self, job_id: JobId, attempt: u32, level: LogLevel, message: String) {
        let at = Utc::now();
        let message = match LogLine::truncate(&message) {
            Cow::Borrowed(_) => message,
            Cow::Owned(cut) => cut,
        };
        let Some(seq) = self.lock().admit(message.len()) else {
            return;
        };
        let line = NewLogLine::new(job_id, attempt, level, message)
            .with_seq(seq)
            .with_at(at);
        self.sink.push(|pending| pending.lines.push(line));
    }

    /// Hands the attempt's progress over (the latest one wins); NaN says nothing.
    pub(crate) fn progress(&self, job_id: JobId, attempt: u32, progress: f32) {
        let Some(progress) = ProgressUpdate::clamp(progress) else {
            return;
        };
        if self.lock().is_closed() {
            return;
        }
        let update = ProgressUpdate::new(job_id, attempt, progress);
        self.sink.push(|pending| {
            pending.progress.insert(job_id, update);
        });
    }

    /// Ends the attempt's output: hands over the note of dropped lines, if any, so
    /// that it reaches the sink before the attempt's outcome reaches the recorder.
    pub(crate) fn close(&self, job_id: JobId, attempt: u32) {
        if !self.touched.load(Ordering::Relaxed) {
            return;
        }
        let Some((seq, note)) = self.lock().close() else {
            return;
        };
        let line = NewLogLine::new(job_id, attempt, LogLevel::Warn, note).with_seq(seq);
        self.sink.push(|pending| pending.lines.push(line));
    }
}

/// Where the attempts of one worker (or one inline run) hand their lines and
/// progress over, until the recorder takes them. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub(crate) struct OutputSink {
    shared: Arc<SinkShared>,
}

#[derive(Debug, Default)]
struct SinkShared {
    pending: Mutex<Pending>,
    /// Set when something was handed over since the last [`OutputSink::take`]: the
    /// recorder's check per batch is this one load.
    dirty: AtomicBool,
    /// Wakes the recorder to flush a long job's lines while no outcome comes.
    handed_over: Notify,
}

/// Lines and progress handed over and not yet written.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    lines: Vec<NewLogLine>,
    progress: HashMap<JobId, ProgressUpdate>,
}

impl Pending {
    /// How many lines it holds.
    pub(crate) fn lines(&self) -> usize {
        self.lines.len()
    }

    /// Writes the lines, then the progress.
    ///
    /// # Errors
    ///
    /// The backend's error; nothing is lost on the way, so it may be written again
    /// (a line stored twice is kept once).
    pub(crate) async fn write(&self, storage: &dyn Storage) -> Result<()> {
        storage.append_logs(&self.lines).await?;
        let progress: Vec<ProgressUpdate> = self.progress.values().copied().collect();
        storage.set_progress(&progress).await
    }
}

impl OutputSink {
    fn push(&self, hand_over: impl FnOnce(&mut Pending)) {
        hand_over(
            &mut self
                .shared
                .pending
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        if !self.shared.dirty.swap(true, Ordering::AcqRel) {
            self.shared.handed_over.notify_one();
        }
    }

    /// Everything handed over since the last call, if anything was.
    pub(crate) fn take(&self) -> Option<Pending> {
        if !self.shared.dirty.load(Ordering::Acquire) {
            return None;
        }
        let mut pending = self
            .shared
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        self.shared.dirty.store(false, Ordering::Release);
        let taken = std::mem::take(&mut *pending);
        (!taken.lines.is_empty() || !taken.progress.is_empty()).then_some(taken)
    }

    /// Resolves once something was handed over (at once if it was since the last
    /// time this resolved).
    pub(crate) async fn handed_over(&self) {
        self.shared.handed_over.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_past_the_line_bound_are_dropped_and_counted_once() {
        let mut log = AttemptLog::default();
        for expected in 0..LogLine::MAX_LINES_PER_ATTEMPT {
            assert_eq!(log.admit(1), Some(expected));
        }
        assert_eq!(log.admit(1), None);
        assert_eq!(log.admit(1), None);
        let (seq, note) = log.close().expect("a note of the dropped lines");
        assert_eq!(seq, LogLine::MAX_LINES_PER_ATTEMPT);
        assert!(note.starts_with("… 2 more lines dropped"), "{note}");
        assert_eq!(log.close(), None, "the note is handed over once");
        assert_eq!(log.admit(1), None, "a closed attempt keeps nothing");
    }

    #[test]
    fn once_the_byte_bound_drops_a_line_every_later_line_is_dropped() {
        let mut log = AttemptLog::default();
        assert_eq!(log.admit(LogLine::MAX_BYTES_PER_ATTEMPT - 10), Some(0));
        assert_eq!(log.admit(11), None);
        assert_eq!(log.admit(1), None, "the kept lines stay the first ones");
        let (seq, note) = log.close().unwrap();
        assert_eq!(seq, 1);
        assert!(note.starts_with("… 2 more lines dropped"), "{note}");
    }

    #[test]
    fn an_attempt_that_kept_everything_leaves_no_note() {
        let mut log = AttemptLog::default();
        assert_eq!(log.admit(5), Some(0));
        assert_eq!(log.close(), None);
    }

    #[test]
    fn a_sink_hands_over_lines_once_and_the_latest_progress() {
        let sink = OutputSink::default();
        assert!(sink.take().is_none());
        let output = AttemptOutput::new(sink.clone());
        let id = JobId::from_i64(3);
        output.log(id, 1, LogLevel::Info, "one".to_owned());
        output.progress(id, 1, 0.25);
        output.progress(id, 1, 2.0);
        output.progress(id, 1, f32::NAN);
        let pending = sink.take().expect("what was handed over");
        assert_eq!(pending.lines(), 1);
        assert_eq!(pending.progress[&id].progress, 1.0);
        assert!(sink.take().is_none(), "taken once");
        output.close(id, 1);
        output.log(id, 1, LogLevel::Info, "late".to_owned());
        assert!(sink.take().is_none(), "an ended attempt hands nothing over");
    }
}

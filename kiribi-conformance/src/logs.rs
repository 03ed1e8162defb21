//! Conformance checks of log lines and progress: kept per attempt and in order,
//! within the bound, gone with their job; progress on the record.

use chrono::{DateTime, Utc};
use kiribi_core::backend::Outcome;
use kiribi_core::{JobId, LogLevel, LogLine, NewLogLine, ProgressUpdate, Storage};

use super::{LONG_LEASE, claim_one, complete, enqueue, get, job};

/// A time both backends store exactly (whole milliseconds).
fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(1_800_000_000_000 + ms).expect("a time")
}

fn line(id: JobId, attempt: u32, seq: u32, message: &str) -> NewLogLine {
    NewLogLine::new(id, attempt, LogLevel::Info, message)
        .with_seq(seq)
        .with_at(at(i64::from(seq)))
}

/// What a job's stored lines say, in the order `logs` returns them.
async fn stored(storage: &dyn Storage, id: JobId) -> Vec<(u32, u32, String)> {
    storage
        .logs(id)
        .await
        .expect("logs")
        .into_iter()
        .map(|line| (line.attempt, line.seq, line.message))
        .collect()
}

/// Lines come back by attempt, then seq, whatever order they were appended in,
/// with their time and level; a line appended twice is kept once; lines of an
/// unknown job are dropped without an error; an unknown id has no lines.
pub async fn log_lines_are_kept_per_attempt_and_in_order(storage: &dyn Storage) {
    let ids = enqueue(storage, vec![job("logged", 0), job("other", 1)]).await;
    let (id, other) = (ids[0], ids[1]);
    claim_one(storage, "logged", LONG_LEASE).await;
    let unknown = JobId::from_i64(other.as_i64() + 100);
    storage
        .append_logs(&[
            line(id, 2, 1, "second try, line 1"),
            line(id, 1, 1, "first try, line 1"),
            NewLogLine::new(id, 1, LogLevel::Warn, "first try, line 0")
                .with_seq(0)
                .with_at(at(0)),
            line(id, 2, 0, "second try, line 0"),
            line(unknown, 1, 0, "of no job"),
            line(other, 1, 0, "of the other job"),
        ])
        .await
        .expect("append_logs");
    // A retried write: stored once, the first text kept.
    storage
        .append_logs(&[line(id, 1, 1, "first try, line 1, again")])
        .await
        .expect("append_logs again");

    assert_eq!(
        stored(storage, id).await,
        [
            (1, 0, "first try, line 0".to_owned()),
            (1, 1, "first try, line 1".to_owned()),
            (2, 0, "second try, line 0".to_owned()),
            (2, 1, "second try, line 1".to_owned()),
        ]
    );
    let lines = storage.logs(id).await.expect("logs");
    assert_eq!((lines[0].level, lines[0].at), (LogLevel::Warn, at(0)));
    assert_eq!((lines[1].level, lines[1].at), (LogLevel::Info, at(1)));
    assert!(lines.iter().all(|line| line.job_id == id));
    assert_eq!(stored(storage, other).await.len(), 1);
    assert!(stored(storage, unknown).await.is_empty());
    storage.append_logs(&[]).await.expect("an empty batch");
}

/// An attempt keeps at most `MAX_LINES_PER_ATTEMPT` + 1 lines (seq 0 to the bound,
/// the last for the note of dropped lines); a long message is cut.
pub async fn log_lines_past_the_bound_are_dropped(storage: &dyn Storage) {
    let id = enqueue(storage, vec![job("chatty", 0)]).await[0];
    claim_one(storage, "chatty", LONG_LEASE).await;
    let bound = LogLine::MAX_LINES_PER_ATTEMPT;
    let long = "x".repeat(LogLine::MAX_MESSAGE_BYTES * 2);
    let mut lines: Vec<NewLogLine> = (0..bound + 5).map(|seq| line(id, 1, seq, "n")).collect();
    lines[0] = line(id, 1, 0, &long);
    storage.append_logs(&lines).await.expect("append_logs");

    let kept = storage.logs(id).await.expect("logs");
    assert_eq!(kept.len(), usize::try_from(bound).unwrap() + 1);
    assert_eq!(kept.last().map(|line| line.seq), Some(bound));
    assert!(kept[0].message.len() <= LogLine::MAX_MESSAGE_BYTES);
    assert_eq!(kept[0].message, LogLine::truncate(&long));
}

/// Deleting a job deletes its lines; a job's lines are not another's.
pub async fn log_lines_go_with_a_deleted_job(storage: &dyn Storage) {
    let ids = enqueue(storage, vec![job("gone", 0), job("kept", 1)]).await;
    let gone = claim_one(storage, "gone", LONG_LEASE).await;
    claim_one(storage, "kept", LONG_LEASE).await;
    storage
        .append_logs(&[line(ids[0], 1, 0, "soon gone"), line(ids[1], 1, 0, "stays")])
        .await
        .expect("append_logs");
    assert!(
        complete(storage, gone.lease, Outcome::succeeded(None))
            .await
            .expect("complete")
    );
    assert!(storage.delete(ids[0]).await.expect("delete"));
    assert!(stored(storage, ids[0]).await.is_empty());
    assert_eq!(stored(storage, ids[1]).await.len(), 1);
}

/// Progress is stored on the record, clamped, only for the job's latest attempt,
/// and stays after the job finished.
pub async fn progress_is_stored_on_the_record_of_the_latest_attempt(storage: &dyn Storage) {
    let ids = enqueue(storage, vec![job("progressing", 0), job("idle", 1)]).await;
    let id = ids[0];
    assert_eq!(get(storage, id).await.progress, None, "none reported yet");
    let claimed = claim_one(storage, "progressing", LONG_LEASE).await;
    storage
        .set_progress(&[ProgressUpdate::new(id, 1, 0.5)])
        .await
        .expect("set_progress");
    assert_eq!(get(storage, id).await.progress, Some(0.5));

    // A stale attempt's report changes nothing; an out-of-range one is clamped.
    storage
        .set_progress(&[ProgressUpdate::new(id, 2, 0.9)])
        .await
        .expect("set_progress of another attempt");
    assert_eq!(get(storage, id).await.progress, Some(0.5));
    let mut beyond = ProgressUpdate::new(id, 1, 1.0);
    beyond.progress = 7.0;
    storage.set_progress(&[beyond]).await.expect("set_progress");
    assert_eq!(get(storage, id).await.progress, Some(1.0));

    assert!(
        complete(storage, claimed.lease, Outcome::succeeded(None))
            .await
            .expect("complete")
    );
    assert_eq!(get(storage, id).await.progress, Some(1.0));
    assert_eq!(get(storage, ids[1]).await.progress, None);
    storage.set_progress(&[]).await.expect("an empty batch");
}

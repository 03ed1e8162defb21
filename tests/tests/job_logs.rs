//! Per-job logs and progress through the public API, on each backend (DESIGN §11):
//! `ctx.log`, `tracing` events under `kiribi::LogLayer` and `ctx.progress`, run by
//! a real worker; attempts keep their lines apart; a chatty job hits the bound; a
//! running job's lines and progress show while it runs; lines go with a deleted
//! job.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use kiribi::{JobContext, JobFilter, JobId, JobStatus, Kiribi, LogLevel, LogLine, job};
use kiribi_tests::{Backend, TestDb, backend_tests, wait, wait_for_status, wait_until_ended};
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;

#[job(name = "logs.import")]
async fn import(ctx: JobContext, file: String) -> Result<u64, String> {
    ctx.log(format!("opened {file}"));
    tracing::info!(rows = 10, "parsed");
    tracing::warn!(disk = "sda", "slow");
    tokio::spawn(async { tracing::debug!("from a task in the job's span") }.in_current_span())
        .await
        .map_err(|error| error.to_string())?;
    ctx.progress(0.5);
    Ok(10)
}

#[job(name = "logs.flaky", max_attempts = 2, retry_delay = "10ms")]
async fn flaky(ctx: JobContext) -> Result<(), String> {
    ctx.log(format!("try {}", ctx.attempt()));
    ctx.progress(0.1 * f32::from(u8::try_from(ctx.attempt()).unwrap_or(0)));
    if ctx.attempt() == 1 {
        return Err("the first try fails".to_owned());
    }
    ctx.log("done");
    Ok(())
}

#[job(name = "logs.chatty")]
async fn chatty(ctx: JobContext, lines: u32) -> Result<(), String> {
    for n in 0..lines {
        ctx.log(format!("line {n}"));
    }
    Ok(())
}

#[job(name = "logs.wordy")]
async fn wordy(ctx: JobContext) -> Result<(), String> {
    ctx.log("w".repeat(10 * 1024));
    for _ in 1..20 {
        ctx.log("w".repeat(LogLine::MAX_MESSAGE_BYTES));
    }
    Ok(())
}

#[job(name = "logs.long")]
async fn long(ctx: JobContext) -> Result<(), String> {
    ctx.log("started");
    ctx.progress(0.25);
    ctx.cancelled().await;
    Ok(())
}

#[job(name = "logs.inline")]
async fn inline(ctx: JobContext) -> Result<(), String> {
    ctx.log("ran inline");
    ctx.progress(1.0);
    Ok(())
}

/// `(attempt, level, message)` of each stored line, in order.
async fn lines(kiribi: &Kiribi, id: JobId) -> Vec<(u32, LogLevel, String)> {
    kiribi
        .logs(id)
        .await
        .expect("read the logs")
        .into_iter()
        .map(|line| (line.attempt, line.level, line.message))
        .collect()
}

fn info(attempt: u32, message: &str) -> (u32, LogLevel, String) {
    (attempt, LogLevel::Info, message.to_owned())
}

/// The messages of every event a layer of the user's own saw.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Seen {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Message<'a>(&'a mut Vec<String>);
        impl tracing::field::Visit for Message<'_> {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0.push(format!("{value:?}"));
                }
            }
        }
        event.record(&mut Message(&mut self.0.lock().unwrap()));
    }
}

/// A job's `ctx.log` lines and its `tracing` events are stored in order, with their
/// levels, where the layer is installed; the user's own layer still sees the
/// events; an event outside a job is stored nowhere; progress shows on the record;
/// and the lines go when the job is deleted.
///
/// On a current-thread runtime, so that the worker's tasks run under the test's
/// default subscriber.
async fn log_lines_and_tracing_events_are_kept_with_the_attempt(backend: Backend) {
    let seen = Seen::default();
    let subscriber = tracing_subscriber::registry()
        .with(kiribi::log_layer())
        .with(seen.clone());
    let _guard = tracing::subscriber::set_default(subscriber);
    tracing::info!("outside any job");

    let db = TestDb::new(backend).await;
    let kiribi = db.connect().await;
    let worker = kiribi
        .worker()
        .poll_interval(Duration::from_millis(20))
        .start();
    let id = Import::enqueue(
        &kiribi,
        Import {
            file: "a.csv".into(),
        },
    )
    .await
    .unwrap();
    let record = wait_for_status(&kiribi, id, JobStatus::Succeeded).await;
    assert_eq!(record.progress, Some(0.5));
    assert_eq!(
        lines(&kiribi, id).await,
        [
            info(1, "opened a.csv"),
            info(1, "parsed rows=10"),
            (1, LogLevel::Warn, "slow disk=sda".to_owned()),
            (
                1,
                LogLevel::Debug,
                "from a task in the job's span".to_owned()
            ),
        ]
    );
    let stored = kiribi.logs(id).await.unwrap();
    assert!(stored.iter().all(|line| line.job_id == id));
    assert!(stored.windows(2).all(|pair| pair[0].at <= pair[1].at));
    let seen = seen.0.lock().unwrap().clone();
    assert!(
        seen.iter().any(|message| message == "parsed"),
        "the user's layer saw the job's event: {seen:?}"
    );
    assert!(seen.iter().any(|message| message == "outside any job"));
    worker.shutdown().await.unwrap();

    assert!(kiribi.delete(id).await.unwrap());
    assert!(lines(&kiribi, id).await.is_empty(), "gone with the job");
}

mod tracing_events {
    use kiribi_tests::Backend;

    #[tokio::test(flavor = "current_thread")]
    async fn sqlite() {
        super::log_lines_and_tracing_events_are_kept_with_the_attempt(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "current_thread")]
    async fn postgres() {
        super::log_lines_and_tracing_events_are_kept_with_the_attempt(Backend::Postgres).await;
    }
}

/// A job that fails its first attempt and succeeds on the second keeps the two
/// attempts' lines apart; its progress is the second attempt's.
async fn each_attempt_keeps_its_own_lines(db: TestDb) {
    let kiribi = db.connect().await;
    let worker = kiribi
        .worker()
        .poll_interval(Duration::from_millis(20))
        .start();
    let id = Flaky::enqueue(&kiribi, Flaky {}).await.unwrap();
    let record = wait_until_ended(&kiribi, id).await;
    assert_eq!((record.status, record.attempts), (JobStatus::Succeeded, 2));
    assert_eq!(record.progress, Some(0.2));
    assert_eq!(
        lines(&kiribi, id).await,
        [info(1, "try 1"), info(2, "try 2"), info(2, "done")]
    );
    worker.shutdown().await.unwrap();
}

/// Past 1,000 lines an attempt drops the rest and says how many; past 64 KiB too;
/// a long message is cut.
async fn a_chatty_job_hits_the_bound(db: TestDb) {
    let kiribi = db.connect().await;
    let worker = kiribi
        .worker()
        .poll_interval(Duration::from_millis(20))
        .start();
    let chatty = Chatty::enqueue(&kiribi, Chatty { lines: 1_100 })
        .await
        .unwrap();
    let wordy = Wordy::enqueue(&kiribi, Wordy {}).await.unwrap();
    wait_for_status(&kiribi, chatty, JobStatus::Succeeded).await;
    wait_for_status(&kiribi, wordy, JobStatus::Succeeded).await;

    let kept = lines(&kiribi, chatty).await;
    let bound = usize::try_from(LogLine::MAX_LINES_PER_ATTEMPT).unwrap();
    assert_eq!(kept.len(), bound + 1);
    assert_eq!(kept[0], info(1, "line 0"));
    assert_eq!(kept[bound - 1], info(1, "line 999"));
    let (_, level, note) = &kept[bound];
    assert_eq!(*level, LogLevel::Warn);
    assert!(note.starts_with("… 100 more lines dropped"), "{note}");

    let kept = kiribi.logs(wordy).await.unwrap();
    let whole = LogLine::MAX_BYTES_PER_ATTEMPT / LogLine::MAX_MESSAGE_BYTES;
    assert_eq!(kept.len(), whole + 1, "64 KiB of 4 KiB lines, and the note");
    assert!(kept[0].message.ends_with('…'), "the 10 KiB line was cut");
    assert!(
        kept.iter()
            .all(|line| line.message.len() <= LogLine::MAX_MESSAGE_BYTES)
    );
    let dropped = 20 - whole;
    assert!(
        kept[whole]
            .message
            .starts_with(&format!("… {dropped} more lines dropped")),
        "{}",
        kept[whole].message
    );
    worker.shutdown().await.unwrap();
}

/// A running job's lines and progress reach the database while it runs, not only
/// when it ends.
async fn a_running_jobs_lines_and_progress_show_while_it_runs(db: TestDb) {
    let kiribi = db.connect().await;
    let worker = kiribi
        .worker()
        .poll_interval(Duration::from_millis(20))
        .start();
    let id = Long::enqueue(&kiribi, Long {}).await.unwrap();
    wait::until(
        "the running job's line and progress",
        Duration::from_secs(20),
        || async {
            let record = kiribi.job(id).await.unwrap().unwrap();
            let shown = record.status == JobStatus::Running
                && record.progress == Some(0.25)
                && lines(&kiribi, id).await == [info(1, "started")];
            shown.then_some(())
        },
    )
    .await;
    assert!(kiribi.cancel(id).await.unwrap());
    wait_for_status(&kiribi, id, JobStatus::Cancelled).await;
    assert_eq!(lines(&kiribi, id).await, [info(1, "started")]);
    worker.shutdown().await.unwrap();
}

/// An inline run (`run_now`) keeps its lines and progress too; an unknown id has
/// no lines.
async fn inline_runs_keep_their_lines_and_unknown_ids_have_none(db: TestDb) {
    let kiribi = db.connect().await;
    Inline::run_now(&kiribi, Inline {}).await.unwrap();
    let jobs = kiribi
        .jobs(JobFilter::new().name("logs.inline"))
        .await
        .unwrap();
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].progress, Some(1.0));
    assert_eq!(lines(&kiribi, jobs[0].id).await, [info(1, "ran inline")]);
    let unknown = JobId::from_i64(jobs[0].id.as_i64() + 1_000);
    assert!(kiribi.logs(unknown).await.unwrap().is_empty());
}

backend_tests!(
    each_attempt_keeps_its_own_lines,
    a_chatty_job_hits_the_bound,
    a_running_jobs_lines_and_progress_show_while_it_runs,
    inline_runs_keep_their_lines_and_unknown_ids_have_none,
);

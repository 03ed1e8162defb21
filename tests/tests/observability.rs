//! What an operator sees (DESIGN §12), on each backend, with a real worker: one
//! `tracing` span per attempt with its job id, name, queue, attempt and outcome, and
//! the `metrics` counters and run-time histogram of feature `metrics`, read through
//! `metrics-util`'s debugging recorder.
//!
//! The recorder and the subscriber are global to this test binary, and the backends'
//! tests run side by side: each test's jobs go to a queue of its own, and the
//! figures are told apart by their `queue` label.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use kiribi::{EnqueueOptions, JobContext, JobStatus, Kiribi, job};
use kiribi_tests::{TestDb, backend_tests, wait};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use tracing::span;
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

#[job(name = "obs.ok")]
async fn ok(n: u32) -> Result<u32, String> {
    Ok(n)
}

#[job(name = "obs.flaky", max_attempts = 2, retry_delay = "10ms")]
async fn flaky(ctx: JobContext) -> Result<(), String> {
    if ctx.attempt() == 1 {
        return Err("the first try fails".to_owned());
    }
    Ok(())
}

#[job(name = "obs.bad", max_attempts = 1)]
async fn bad() -> Result<(), String> {
    Err("always".to_owned())
}

/// One metric of one job in one queue: counters summed, histogram samples kept,
/// and the highest value a gauge was seen at (a snapshot resets gauges to 0).
#[derive(Debug, Default, Clone)]
struct Figure {
    count: u64,
    samples: Vec<f64>,
    gauge: Option<f64>,
}

/// Figures by (metric, job, queue).
type Figures = HashMap<(String, String, String), Figure>;

/// What the debugging recorder saw so far, by (metric, job, queue). A snapshot
/// resets the recorder, so every snapshot is added up here for all tests.
fn figures() -> Figures {
    static SNAPSHOTTER: OnceLock<Snapshotter> = OnceLock::new();
    static SEEN: Mutex<Option<Figures>> = Mutex::new(None);
    let snapshotter = SNAPSHOTTER.get_or_init(|| {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        recorder
            .install()
            .expect("no other recorder in this binary");
        snapshotter
    });
    let mut seen = SEEN.lock().unwrap();
    let seen = seen.get_or_insert_with(HashMap::new);
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let key = key.key();
        let label = |name: &str| {
            key.labels()
                .find(|label| label.key() == name)
                .map(|label| label.value().to_owned())
                .unwrap_or_default()
        };
        let figure = seen
            .entry((key.name().to_owned(), label("job"), label("queue")))
            .or_default();
        match value {
            DebugValue::Counter(n) => figure.count += n,
            DebugValue::Histogram(samples) => {
                figure
                    .samples
                    .extend(samples.into_iter().map(|s| s.into_inner()));
            }
            DebugValue::Gauge(value) => {
                let value = value.into_inner();
                figure.gauge = Some(figure.gauge.map_or(value, |seen| seen.max(value)));
            }
        }
    }
    seen.clone()
}

/// The fields of one closed `job` span.
type SpanFields = HashMap<String, String>;

/// Every closed `job` span of this binary.
static CLOSED: Mutex<Vec<SpanFields>> = Mutex::new(Vec::new());

/// Keeps the fields of `job` spans and hands them to [`CLOSED`] when they close.
struct Capture;

struct Fields(SpanFields);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for Capture {
    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        if attrs.metadata().name() != "job" {
            return;
        }
        let mut fields = Fields(HashMap::new());
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(&self, id: &span::Id, values: &span::Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id)
            && let Some(fields) = span.extensions_mut().get_mut::<Fields>()
        {
            values.record(fields);
        }
    }

    fn on_close(&self, id: span::Id, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(&id)
            && let Some(fields) = span.extensions_mut().remove::<Fields>()
        {
            CLOSED.lock().unwrap().push(fields.0);
        }
    }
}

fn install() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(Capture))
            .expect("no other subscriber in this binary");
        figures();
    });
}

async fn run_all(kiribi: &Kiribi, queue: &str) -> (kiribi::JobId, kiribi::JobId) {
    let options = || EnqueueOptions::new().queue(queue);
    for n in 0..3 {
        Ok::enqueue_with(kiribi, Ok { n }, options()).await.unwrap();
    }
    let flaky = Flaky::enqueue_with(kiribi, Flaky, options()).await.unwrap();
    let bad = Bad::enqueue_with(kiribi, Bad, options()).await.unwrap();
    let worker = kiribi
        .worker()
        .queues([queue])
        .poll_interval(Duration::from_millis(20))
        .start();
    wait::until("every job to end", Duration::from_secs(20), || async {
        let ended = [flaky, bad].into_iter().map(|id| async move {
            let record = kiribi.job(id).await.unwrap().unwrap();
            matches!(record.status, JobStatus::Succeeded | JobStatus::Failed)
        });
        let mut all = true;
        for ended in ended {
            all &= ended.await;
        }
        let ok = kiribi
            .jobs(
                kiribi::JobFilter::new()
                    .queue(queue)
                    .name("obs.ok")
                    .status(JobStatus::Succeeded),
            )
            .await
            .unwrap();
        (all && ok.len() == 3).then_some(())
    })
    .await;
    worker.shutdown().await.unwrap();
    (flaky, bad)
}

async fn metrics_count_each_attempt_by_job_and_queue(db: TestDb) {
    install();
    let kiribi = db.connect().await;
    let queue = format!("metrics-{:?}", db.backend()).to_lowercase();
    run_all(&kiribi, &queue).await;

    let figures = figures();
    let count = |metric: &str, job: &str| {
        figures
            .get(&(metric.to_owned(), job.to_owned(), queue.clone()))
            .map_or(0, |figure| figure.count)
    };
    let expected = [
        ("kiribi_jobs_enqueued_total", "obs.ok", 3),
        ("kiribi_jobs_started_total", "obs.ok", 3),
        ("kiribi_jobs_succeeded_total", "obs.ok", 3),
        ("kiribi_jobs_enqueued_total", "obs.flaky", 1),
        ("kiribi_jobs_started_total", "obs.flaky", 2),
        ("kiribi_jobs_retried_total", "obs.flaky", 1),
        ("kiribi_jobs_succeeded_total", "obs.flaky", 1),
        ("kiribi_jobs_started_total", "obs.bad", 1),
        ("kiribi_jobs_failed_total", "obs.bad", 1),
        ("kiribi_jobs_retried_total", "obs.bad", 0),
        ("kiribi_jobs_cancelled_total", "obs.ok", 0),
    ];
    for (metric, job, n) in expected {
        assert_eq!(count(metric, job), n, "{metric} of {job} in {queue}");
    }
    let run_time = &figures[&(
        "kiribi_job_run_seconds".to_owned(),
        "obs.flaky".to_owned(),
        queue.clone(),
    )];
    assert_eq!(run_time.samples.len(), 2, "one sample per attempt");
    assert!(run_time.samples.iter().all(|s| s.is_finite() && *s >= 0.0));
    let wait_time = &figures[&(
        "kiribi_job_wait_seconds".to_owned(),
        "obs.flaky".to_owned(),
        queue.clone(),
    )];
    assert_eq!(wait_time.samples.len(), 2, "one wait per attempt");
    assert!(wait_time.samples.iter().all(|s| s.is_finite() && *s >= 0.0));
}

async fn each_attempt_runs_in_a_span_with_its_outcome(db: TestDb) {
    install();
    let kiribi = db.connect().await;
    let queue = format!("spans-{:?}", db.backend()).to_lowercase();
    let (flaky, bad) = run_all(&kiribi, &queue).await;

    let spans: Vec<SpanFields> = CLOSED
        .lock()
        .unwrap()
        .iter()
        .filter(|fields| fields.get("queue") == Some(&queue))
        .cloned()
        .collect();
    assert_eq!(spans.len(), 6, "one span per attempt: {spans:?}");
    let of = |id: kiribi::JobId| {
        let mut attempts: Vec<(String, String)> = spans
            .iter()
            .filter(|fields| fields.get("id") == Some(&id.to_string()))
            .map(|fields| (fields["attempt"].clone(), fields["outcome"].clone()))
            .collect();
        attempts.sort();
        attempts
    };
    assert_eq!(
        of(flaky),
        [
            ("1".to_owned(), "retried".to_owned()),
            ("2".to_owned(), "succeeded".to_owned())
        ]
    );
    assert_eq!(of(bad), [("1".to_owned(), "failed".to_owned())]);
    assert!(
        spans
            .iter()
            .filter(|fields| fields["job"] == "obs.ok")
            .all(|fields| fields["outcome"] == "succeeded")
    );
}

async fn workers_report_queue_depth_as_gauges(db: TestDb) {
    install();
    let kiribi = db.connect().await;
    let queue = format!("depth-{:?}", db.backend()).to_lowercase();
    kiribi.pause_queue(&queue).await.unwrap();
    for n in 0..2 {
        Ok::enqueue_with(&kiribi, Ok { n }, EnqueueOptions::new().queue(&queue))
            .await
            .unwrap();
    }
    let worker = kiribi
        .worker()
        .queues([queue.as_str()])
        .poll_interval(Duration::from_millis(20))
        .start();
    let gauge = |figures: &Figures, metric: &str| {
        figures
            .get(&(metric.to_owned(), String::new(), queue.clone()))
            .and_then(|figure| figure.gauge)
    };
    // A worker's services tick once when it starts.
    let seen = wait::until("the queue gauges", Duration::from_secs(20), || async {
        let figures = figures();
        let pending = gauge(&figures, "kiribi_queue_pending")?;
        let paused = gauge(&figures, "kiribi_queue_paused")?;
        Some((pending, paused, gauge(&figures, "kiribi_queue_running")))
    })
    .await;
    worker.shutdown().await.unwrap();
    assert_eq!(seen, (2.0, 1.0, Some(0.0)), "pending, paused, running");
}

backend_tests!(
    metrics_count_each_attempt_by_job_and_queue,
    each_attempt_runs_in_a_span_with_its_outcome,
    workers_report_queue_depth_as_gauges,
);

//! OpenTelemetry trace propagation across processes (feature `opentelemetry`): a
//! job enqueued inside a span in this process runs in another process in a span
//! whose parent is that span (first attempt) or that links to it (a retry).

use std::time::Duration;

use kiribi::JobId;
use kiribi_tests::jobs::TraceHop;
use kiribi_tests::{TestDb, backend_tests};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;

const WORKER: &str = env!("CARGO_BIN_EXE_kiribi-test-traced-worker");

/// One exported attempt span of the worker process.
#[derive(Debug, serde::Deserialize)]
struct Exported {
    attempt: Option<String>,
    trace_id: String,
    parent_span_id: String,
    links: Vec<[String; 2]>,
}

/// Enqueues the jobs inside a span traced by OpenTelemetry, and returns that
/// span's trace and span ids with the jobs' ids.
async fn enqueue_in_a_span(kiribi: &kiribi::Kiribi) -> ((String, String), JobId, JobId) {
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(InMemorySpanExporter::default())
        .build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("test-enqueuer"));
    let subscriber = tracing_subscriber::registry().with(layer);
    // The enqueue reads the current span when it is called, on this thread.
    let (ids, once, retried) = tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("request");
        let _entered = span.enter();
        let context = span.context();
        let ids = (
            context.span().span_context().trace_id().to_string(),
            context.span().span_context().span_id().to_string(),
        );
        let once = TraceHop::enqueue(kiribi, TraceHop { fail_first: false });
        let retried = TraceHop::enqueue(kiribi, TraceHop { fail_first: true });
        (ids, once, retried)
    });
    (ids, once.await.unwrap(), retried.await.unwrap())
}

async fn an_attempt_in_another_process_continues_the_enqueuing_trace(db: TestDb) {
    let kiribi = db.connect().await;
    let ((trace, span), _once, _retried) = enqueue_in_a_span(&kiribi).await;
    assert_ne!(
        trace, "00000000000000000000000000000000",
        "the span is traced"
    );

    let output = tokio::time::timeout(
        Duration::from_secs(60),
        tokio::process::Command::new(WORKER)
            .args([db.url(), "2"])
            .output(),
    )
    .await
    .expect("the worker process ends")
    .expect("the worker process starts");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "worker failed: {stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let spans: Vec<Exported> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    assert_eq!(
        spans.len(),
        3,
        "two first attempts and one retry: {spans:?}"
    );

    let firsts: Vec<&Exported> = spans
        .iter()
        .filter(|s| s.attempt.as_deref() == Some("1"))
        .collect();
    assert_eq!(firsts.len(), 2, "{spans:?}");
    for first in firsts {
        assert_eq!(
            (&first.trace_id, &first.parent_span_id),
            (&trace, &span),
            "{first:?}"
        );
        assert!(first.links.is_empty(), "{first:?}");
    }
    let retry = spans
        .iter()
        .find(|s| s.attempt.as_deref() == Some("2"))
        .expect("the retry's span");
    assert_ne!(retry.trace_id, trace, "a retry is a trace of its own");
    assert_eq!(
        retry.links,
        [[trace.clone(), span.clone()]],
        "linked to the enqueuing span"
    );
}

backend_tests!(an_attempt_in_another_process_continues_the_enqueuing_trace);

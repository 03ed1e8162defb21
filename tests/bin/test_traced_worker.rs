//! A worker process that exports its spans through OpenTelemetry, for the trace
//! propagation test.
//!
//! `kiribi-test-traced-worker <url> <jobs>` runs a worker (with an OpenTelemetry
//! layer over an in-memory exporter) until `<jobs>` `test.trace_hop` jobs have
//! succeeded, shuts it down, and prints each exported `job` span as one JSON line:
//! `{"attempt", "trace_id", "span_id", "parent_span_id", "links": [[trace, span]]}`.

use std::time::{Duration, Instant};

use kiribi::{JobFilter, JobStatus, Kiribi};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use tracing_subscriber::layer::SubscriberExt;

const USAGE: &str = "usage: kiribi-test-traced-worker <url> <jobs>";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    kiribi_tests::jobs::link();
    let mut args = std::env::args().skip(1);
    let url = args.next().expect(USAGE);
    let jobs: u64 = args.next().expect(USAGE).parse().expect(USAGE);

    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("test-worker"));
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))?;

    let kiribi = Kiribi::connect(&url).await?;
    let worker = kiribi
        .worker()
        .poll_interval(Duration::from_millis(20))
        .start();
    let succeeded = JobFilter::new()
        .name("test.trace_hop")
        .status(JobStatus::Succeeded);
    let deadline = Instant::now() + Duration::from_secs(30);
    while kiribi.count(succeeded.clone()).await? < jobs {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the jobs did not succeed in 30 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    worker.shutdown().await?;
    provider.force_flush()?;

    for span in exporter.get_finished_spans()? {
        if span.name != "job" {
            continue;
        }
        let attempt = span
            .attributes
            .iter()
            .find(|kv| kv.key.as_str() == "attempt")
            .map(|kv| kv.value.to_string());
        let links: Vec<[String; 2]> = span
            .links
            .links
            .iter()
            .map(|link| {
                [
                    link.span_context.trace_id().to_string(),
                    link.span_context.span_id().to_string(),
                ]
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({
                "attempt": attempt,
                "trace_id": span.span_context.trace_id().to_string(),
                "span_id": span.span_context.span_id().to_string(),
                "parent_span_id": span.parent_span_id.to_string(),
                "links": links,
            })
        );
    }
    Ok(())
}

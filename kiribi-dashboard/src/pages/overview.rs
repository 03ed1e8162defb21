//! The overview: jobs by status, charts over a window, per-job figures, queues.

use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use kiribi_core::{JobFilter, JobStats, JobStatus};
use maud::{Markup, html};

use super::{Ctx, Nav, Ops, duration, failure, maybe_duration, query_pairs, shell};
use crate::svg;

/// The windows offered; any humantime duration up to 31 days is accepted.
const WINDOWS: [&str; 5] = ["15m", "1h", "6h", "24h", "7d"];
const DEFAULT_WINDOW: &str = "1h";
/// Rows in the slowest and most failing lists.
const TOP: usize = 5;

pub(crate) async fn page(State(ops): State<Ops>, ctx: Ctx, uri: Uri) -> Response {
    let query = query_pairs(uri.query());
    let raw = query
        .iter()
        .find(|(key, _)| key == "window")
        .map_or(DEFAULT_WINDOW, |(_, value)| value.trim());
    let (window_label, window, error) = match humantime::parse_duration(raw) {
        Ok(window)
            if window >= Duration::from_secs(60) && window <= kiribi_core::Stats::MAX_WINDOW =>
        {
            (raw.to_owned(), window, None)
        }
        _ => (
            DEFAULT_WINDOW.to_owned(),
            Duration::from_secs(3600),
            Some(format!(
                "Window: `{raw}` is not a duration from 1m to 31d (such as 15m, 6h or 7d); showing the last hour."
            )),
        ),
    };

    let mut counts = Vec::with_capacity(JobStatus::ALL.len());
    for status in JobStatus::ALL {
        match ops.count(JobFilter::new().status(status)).await {
            Ok(count) => counts.push((status, count)),
            Err(err) => return failure(&ctx, &err),
        }
    }
    let stats = match ops.stats(window).await {
        Ok(stats) => stats,
        Err(err) => return failure(&ctx, &err),
    };
    let buckets = svg::buckets(&stats.minutes);
    let now = Utc::now();

    let mut slowest: Vec<&JobStats> = stats
        .jobs
        .iter()
        .filter(|j| j.run_time.p95.is_some())
        .collect();
    slowest.sort_by_key(|job| std::cmp::Reverse(job.run_time.p95));
    slowest.truncate(TOP);
    let mut failing: Vec<&JobStats> = stats.jobs.iter().filter(|j| j.failed > 0).collect();
    failing.sort_by(|a, b| {
        b.failed
            .cmp(&a.failed)
            .then(b.failure_rate.total_cmp(&a.failure_rate))
    });
    failing.truncate(TOP);
    let max_depth = stats
        .queues
        .iter()
        .map(|q| q.pending + q.running)
        .max()
        .unwrap_or(0)
        .max(1);

    let body = html! {
        div.title-row {
            h1 { "Overview" }
            form.window method="get" action=(ctx.href("/")) {
                label { "Window "
                    select name="window" {
                        @for option in WINDOWS {
                            option value=(option) selected[option == window_label] { (option) }
                        }
                        @if !WINDOWS.contains(&window_label.as_str()) {
                            option value=(window_label) selected { (window_label) }
                        }
                    }
                }
                button type="submit" { "Show" }
            }
        }
        @if let Some(error) = &error { p.error role="alert" { (error) } }
        div #overview-live data-live {
            section.counts {
                @for (status, count) in &counts {
                    a class={ "count status-" (status.as_str()) } href=(ctx.href(&format!("/jobs?status={}", status.as_str()))) {
                        span.number { (count) }
                        span.label { (status.as_str()) }
                    }
                }
            }
            div.charts {
                figure {
                    figcaption { "Throughput: jobs finished per interval "
                        span.legend.succeeded { "succeeded" } span.legend.failed { "failed" } span.legend.cancelled { "cancelled" } }
                    (svg::throughput(&buckets))
                }
                figure {
                    figcaption { "Failure rate" }
                    (svg::failure_rate(&buckets))
                }
                figure {
                    figcaption { "Run time " span.legend.p50 { "p50" } span.legend.p95 { "p95" } }
                    (svg::run_time(&buckets))
                }
                figure {
                    figcaption { "Queue depth now " span.legend.pending { "pending" } span.legend.running { "running" } }
                    (queue_bars(&ctx, &stats.queues, max_depth))
                }
            }
            div.columns {
                section {
                    h2 { "Slowest (p95 run time)" }
                    @if slowest.is_empty() { p.none { "No job finished in this window." } }
                    @else {
                        table { thead { tr { th { "job" } th.num { "p95" } th.num { "p99" } th.num { "runs" } } }
                            tbody { @for job in &slowest { tr {
                                td { a href=(ctx.href(&format!("/jobs?{}", name_query(&job.name)))) { (job.name) } }
                                td.num { (maybe_duration(job.run_time.p95)) }
                                td.num { (maybe_duration(job.run_time.p99)) }
                                td.num { (job.run_time.count) }
                            } } } }
                    }
                }
                section {
                    h2 { "Most failing" }
                    @if failing.is_empty() { p.none { "No job failed in this window." } }
                    @else {
                        table { thead { tr { th { "job" } th.num { "failed" } th.num { "failure rate" } } }
                            tbody { @for job in &failing { tr {
                                td { a href=(ctx.href(&format!("/jobs?status=failed&{}", name_query(&job.name)))) { (job.name) } }
                                td.num { (job.failed) }
                                td.num { (format!("{:.1} %", job.failure_rate * 100.0)) }
                            } } } }
                    }
                }
            }
            section {
                h2 { "Jobs in the last " (window_label) }
                @if stats.jobs.is_empty() { p.none { "No job finished in this window." } }
                @else {
                    table.wide {
                        thead { tr {
                            th { "job" } th.num { "succeeded" } th.num { "failed" } th.num { "cancelled" } th.num { "retried" }
                            th.num { "failure rate" } th.num { "run p50" } th.num { "run p95" } th.num { "run p99" }
                            th.num { "wait p50" } th.num { "wait p95" } th.num { "per minute" }
                        } }
                        tbody { @for job in &stats.jobs { tr {
                            td { a href=(ctx.href(&format!("/jobs?{}", name_query(&job.name)))) { (job.name) } }
                            td.num { (job.succeeded) } td.num { (job.failed) } td.num { (job.cancelled) } td.num { (job.retried) }
                            td.num { (format!("{:.1} %", job.failure_rate * 100.0)) }
                            td.num { (maybe_duration(job.run_time.p50)) } td.num { (maybe_duration(job.run_time.p95)) } td.num { (maybe_duration(job.run_time.p99)) }
                            td.num { (maybe_duration(job.wait_time.p50)) } td.num { (maybe_duration(job.wait_time.p95)) }
                            td.num { (format!("{:.2}", job.per_minute)) }
                        } } }
                    }
                }
            }
            p.small { "Figures from " (super::time(stats.since, now)) " to " (super::time(stats.until, now)) "." }
        }
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    (status, shell(&ctx, "Overview", Nav::Overview, true, body)).into_response()
}

fn name_query(name: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("name", name)
        .finish()
}

/// Each queue's pending and running jobs as a horizontal bar, with a link to them.
fn queue_bars(ctx: &Ctx, queues: &[kiribi_core::QueueInfo], max: u64) -> Markup {
    if queues.is_empty() {
        return html! { p.none { "No queue has unfinished jobs." } };
    }
    html! {
        table.queue-bars {
            tbody { @for queue in queues { tr {
                td { a href=(ctx.href(&format!("/jobs?{}", form_urlencoded::Serializer::new(String::new()).append_pair("queue", &queue.name).finish()))) { (queue.name) }
                    @if queue.paused { " " span.badge.paused { "paused" } } }
                td.bar {
                    meter.pending value=(queue.pending) min="0" max=(max) title={ (queue.pending) " pending" } {}
                    meter.running value=(queue.running) min="0" max=(max) title={ (queue.running) " running" } {}
                }
                td.num { (queue.pending) " / " (queue.running) }
                td.num title="oldest pending job's wait" { (queue.oldest_pending_age.map_or_else(|| "—".to_owned(), duration)) }
            } } }
        }
    }
}

//! Charts and the flow graph, drawn as SVG on the server (no chart library, no
//! script): presentation attributes and classes only, so the content security
//! policy needs no inline style.

use std::collections::HashMap;
use std::fmt::Write;
use std::time::Duration;

use chrono::{DateTime, Utc};
use kiribi_core::{FlowRecord, JobId, MinuteStats};
use maud::{Markup, html};

use crate::pages::clip;

/// The most bars or points a chart draws; longer windows add minutes up.
const MAX_BUCKETS: usize = 60;
const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 180.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 8.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 24.0;

/// Minutes added up into one bar or point.
#[derive(Debug, Clone, Default)]
pub(crate) struct Bucket {
    pub(crate) start: Option<DateTime<Utc>>,
    pub(crate) succeeded: u64,
    pub(crate) failed: u64,
    pub(crate) cancelled: u64,
    pub(crate) retried: u64,
    /// The largest of the minutes' medians and 95th percentiles: the worst minute
    /// shows (percentiles do not add up).
    pub(crate) p50: Option<Duration>,
    pub(crate) p95: Option<Duration>,
}

/// The window's minutes in at most [`MAX_BUCKETS`] buckets of equal length.
pub(crate) fn buckets(minutes: &[MinuteStats]) -> Vec<Bucket> {
    let per = minutes.len().div_ceil(MAX_BUCKETS).max(1);
    minutes
        .chunks(per)
        .map(|chunk| {
            let mut bucket = Bucket {
                start: chunk.first().map(|m| m.minute),
                ..Bucket::default()
            };
            for minute in chunk {
                bucket.succeeded += minute.succeeded;
                bucket.failed += minute.failed;
                bucket.cancelled += minute.cancelled;
                bucket.retried += minute.retried;
                bucket.p50 = bucket.p50.max(minute.run_time.p50);
                bucket.p95 = bucket.p95.max(minute.run_time.p95);
            }
            bucket
        })
        .collect()
}

fn plot_width() -> f64 {
    WIDTH - LEFT - RIGHT
}

fn plot_height() -> f64 {
    HEIGHT - TOP - BOTTOM
}

/// The frame every chart shares: grid lines with labels, and the first, middle
/// and last bucket's time under the x axis.
fn frame(buckets: &[Bucket], labels: [String; 3]) -> Markup {
    let long = buckets
        .first()
        .zip(buckets.last())
        .and_then(|(a, b)| Some(b.start? - a.start?))
        .is_some_and(|span| span.num_hours() >= 24);
    let stamp = |bucket: Option<&Bucket>| {
        bucket
            .and_then(|b| b.start)
            .map(|at| {
                at.format(if long { "%m-%d %H:%M" } else { "%H:%M" })
                    .to_string()
            })
            .unwrap_or_default()
    };
    let n = buckets.len();
    let x_labels = [
        (LEFT, "start", stamp(buckets.first())),
        (
            LEFT + plot_width() / 2.0,
            "middle",
            stamp(buckets.get(n / 2)),
        ),
        (WIDTH - RIGHT, "end", stamp(buckets.last())),
    ];
    html! {
        @for (i, label) in labels.iter().enumerate() {
            @let y = TOP + plot_height() * (i as f64) / 2.0;
            line.grid x1=(f(LEFT)) x2=(f(WIDTH - RIGHT)) y1=(f(y)) y2=(f(y)) {}
            text.axis x=(f(LEFT - 4.0)) y=(f(y + 4.0)) text-anchor="end" { (label) }
        }
        @for (x, anchor, label) in x_labels {
            text.axis x=(f(x)) y=(f(HEIGHT - 6.0)) text-anchor=(anchor) { (label) }
        }
    }
}

/// Succeeded (below) and failed (above) jobs per bucket, as stacked bars.
pub(crate) fn throughput(buckets: &[Bucket]) -> Markup {
    let max = buckets
        .iter()
        .map(|b| b.succeeded + b.failed + b.cancelled)
        .max()
        .unwrap_or(0)
        .max(1);
    let scale = |v: u64| plot_height() * v as f64 / max as f64;
    let step = plot_width() / buckets.len().max(1) as f64;
    let bar = (step * 0.8).max(1.0);
    html! {
        svg.chart viewBox={ "0 0 " (f(WIDTH)) " " (f(HEIGHT)) } role="img" aria-label="Jobs finished per interval" {
            (frame(buckets, [max.to_string(), format!("{}", max / 2), "0".to_owned()]))
            @for (i, b) in buckets.iter().enumerate() {
                @let x = LEFT + step * i as f64 + (step - bar) / 2.0;
                @let bottom = TOP + plot_height();
                @let ok = scale(b.succeeded);
                @let bad = scale(b.failed);
                @let off = scale(b.cancelled);
                g {
                    title { (stamp_title(b)) ": " (b.succeeded) " succeeded, " (b.failed) " failed, " (b.cancelled) " cancelled" }
                    rect.succeeded x=(f(x)) y=(f(bottom - ok)) width=(f(bar)) height=(f(ok)) {}
                    rect.failed x=(f(x)) y=(f(bottom - ok - bad)) width=(f(bar)) height=(f(bad)) {}
                    rect.cancelled x=(f(x)) y=(f(bottom - ok - bad - off)) width=(f(bar)) height=(f(off)) {}
                }
            }
        }
    }
}

/// Failed ÷ (succeeded + failed) per bucket, as a line over the buckets that
/// finished a job.
pub(crate) fn failure_rate(buckets: &[Bucket]) -> Markup {
    let points: Vec<(usize, f64)> = buckets
        .iter()
        .enumerate()
        .filter(|(_, b)| b.succeeded + b.failed > 0)
        .map(|(i, b)| (i, b.failed as f64 / (b.succeeded + b.failed) as f64))
        .collect();
    line_chart(
        buckets,
        &[("rate", &points)],
        1.0,
        ["100 %".to_owned(), "50 %".to_owned(), "0 %".to_owned()],
        "Failure rate per interval",
        |v| format!("{:.1} %", v * 100.0),
    )
}

/// The run time's median and 95th percentile per bucket, in milliseconds.
pub(crate) fn run_time(buckets: &[Bucket]) -> Markup {
    let series = |pick: fn(&Bucket) -> Option<Duration>| -> Vec<(usize, f64)> {
        buckets
            .iter()
            .enumerate()
            .filter_map(|(i, b)| pick(b).map(|d| (i, d.as_secs_f64() * 1000.0)))
            .collect()
    };
    let p50 = series(|b| b.p50);
    let p95 = series(|b| b.p95);
    let max = p95.iter().chain(&p50).map(|(_, v)| *v).fold(0.0, f64::max);
    let max = if max > 0.0 { max } else { 1.0 };
    let label = |v: f64| crate::pages::duration(Duration::from_secs_f64(v / 1000.0));
    line_chart(
        buckets,
        &[("p50", &p50), ("p95", &p95)],
        max,
        [label(max), label(max / 2.0), "0".to_owned()],
        "Run time per interval, median and 95th percentile",
        label,
    )
}

fn line_chart(
    buckets: &[Bucket],
    series: &[(&str, &[(usize, f64)])],
    max: f64,
    labels: [String; 3],
    aria: &str,
    value: impl Fn(f64) -> String,
) -> Markup {
    let step = plot_width() / buckets.len().max(1) as f64;
    let x = |i: usize| LEFT + step * (i as f64 + 0.5);
    let y = |v: f64| TOP + plot_height() * (1.0 - (v / max).clamp(0.0, 1.0));
    html! {
        svg.chart viewBox={ "0 0 " (f(WIDTH)) " " (f(HEIGHT)) } role="img" aria-label=(aria) {
            (frame(buckets, labels))
            @for (class, points) in series {
                @let path = points.iter().fold(String::new(), |mut out, (i, v)| {
                    let _ = write!(out, "{},{} ", f(x(*i)), f(y(*v)));
                    out
                });
                polyline class={ "line " (class) } points=(path) {}
                @for (i, v) in points.iter() {
                    circle class={ "dot " (class) } cx=(f(x(*i))) cy=(f(y(*v))) r="2.5" {
                        title { (stamp_title(&buckets[*i])) " " (class) ": " (value(*v)) }
                    }
                }
            }
        }
    }
}

fn stamp_title(bucket: &Bucket) -> String {
    bucket
        .start
        .map(|at| at.format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

/// A coordinate with one decimal.
fn f(v: f64) -> String {
    format!("{v:.1}")
}

const NODE_WIDTH: f64 = 150.0;
const NODE_HEIGHT: f64 = 40.0;
const COLUMN: f64 = 200.0;
const ROW: f64 = 60.0;

/// A flow's steps as boxes in columns by depth (a step stands right of every step
/// it depends on), with an arrow from each dependency, each box a link to its job;
/// `current` is outlined.
pub(crate) fn flow_graph(
    flow: &FlowRecord,
    current: Option<JobId>,
    href: impl Fn(JobId) -> String,
) -> Markup {
    let index: HashMap<&str, usize> = flow
        .steps
        .iter()
        .enumerate()
        .map(|(i, step)| (step.name.as_str(), i))
        .collect();
    // Depth by relaxation: at most one pass per step, since flows have no cycle
    // (a stored cycle, impossible by construction, stops at that bound).
    let mut depth = vec![0usize; flow.steps.len()];
    for _ in 0..flow.steps.len() {
        let mut changed = false;
        for (i, step) in flow.steps.iter().enumerate() {
            for dep in &step.depends_on {
                if let Some(&d) = index.get(dep.as_str())
                    && depth[i] < depth[d] + 1
                {
                    depth[i] = depth[d] + 1;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    let mut rows_used: HashMap<usize, usize> = HashMap::new();
    let positions: Vec<(f64, f64)> = depth
        .iter()
        .map(|&d| {
            let row = rows_used.entry(d).or_insert(0);
            let at = (10.0 + COLUMN * d as f64, 10.0 + ROW * *row as f64);
            *row += 1;
            at
        })
        .collect();
    let columns = depth.iter().max().map_or(1, |d| d + 1);
    let rows = rows_used.values().max().copied().unwrap_or(1);
    let width = 20.0 + COLUMN * (columns as f64 - 1.0) + NODE_WIDTH;
    let height = 20.0 + ROW * (rows as f64 - 1.0) + NODE_HEIGHT;
    html! {
        svg.flow viewBox={ "0 0 " (f(width)) " " (f(height)) } width=(f(width)) role="img" aria-label={ "Steps of flow " (flow.name) } {
            defs {
                marker #arrow viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse" {
                    path d="M 0 0 L 10 5 L 0 10 z" {}
                }
            }
            @for (i, step) in flow.steps.iter().enumerate() {
                @for dep in &step.depends_on {
                    @if let Some(&d) = index.get(dep.as_str()) {
                        @let (x1, y1) = (positions[d].0 + NODE_WIDTH, positions[d].1 + NODE_HEIGHT / 2.0);
                        @let (x2, y2) = (positions[i].0, positions[i].1 + NODE_HEIGHT / 2.0);
                        @let mid = (x1 + x2) / 2.0;
                        path.edge d={ "M " (f(x1)) " " (f(y1)) " C " (f(mid)) " " (f(y1)) ", " (f(mid)) " " (f(y2)) ", " (f(x2)) " " (f(y2)) } marker-end="url(#arrow)" {}
                    }
                }
            }
            @for (i, step) in flow.steps.iter().enumerate() {
                @let (x, y) = positions[i];
                a href=(href(step.job.id)) {
                    title { (step.name) " (" (step.job.name) ", job " (step.job.id) "): " (step.job.status.as_str()) }
                    rect class={ "node status-" (step.job.status.as_str()) @if current == Some(step.job.id) { " current" } }
                        x=(f(x)) y=(f(y)) width=(f(NODE_WIDTH)) height=(f(NODE_HEIGHT)) rx="6" {}
                    text.node-name x=(f(x + 8.0)) y=(f(y + 16.0)) { (clip(&step.name, 20)) }
                    text.node-status x=(f(x + 8.0)) y=(f(y + 32.0)) { (step.job.status.as_str()) " · #" (step.job.id) }
                }
            }
        }
    }
}

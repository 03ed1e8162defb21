//! One job: its record, payload and result, attempts, log lines, progress and
//! flow; retry, cancel, delete and run now.

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use kiribi_core::{JobId, JobRecord, JobStatus};
use maud::{Markup, html};

use super::{
    Ctx, Nav, Ops, duration, failure, json, maybe_time, notice, path_id, problem, query_pairs,
    shell, status, time,
};
use crate::svg;

pub(crate) async fn page(
    State(ops): State<Ops>,
    ctx: Ctx,
    Path(id): Path<String>,
    uri: Uri,
) -> Response {
    let id = match path_id::<JobId>(&ctx, &id, "job") {
        Ok(id) => id,
        Err(page) => return page,
    };
    let job = match ops.job(id).await {
        Ok(Some(job)) => job,
        Ok(None) => {
            return problem(
                &ctx,
                StatusCode::NOT_FOUND,
                "No such job",
                &format!("There is no job {id}: it may have been deleted or pruned."),
            );
        }
        Err(err) => return failure(&ctx, &err),
    };
    let (attempts, logs) = match (ops.attempts(id).await, ops.logs(id).await) {
        (Ok(attempts), Ok(logs)) => (attempts, logs),
        (Err(err), _) | (_, Err(err)) => return failure(&ctx, &err),
    };
    let flow = match job.flow {
        Some(flow) => match ops.flow(flow).await {
            Ok(flow) => flow,
            Err(err) => return failure(&ctx, &err),
        },
        None => None,
    };
    let now = Utc::now();
    let pairs = query_pairs(uri.query());
    let running = !job.status.is_finished();
    let title = format!("Job {} · {}", job.id, job.name);
    let body = html! {
        (notice(&pairs))
        div #job-live data-live {
            div.title-row {
                h1 { "Job " (job.id) " " span.job-name { (job.name) } " " (status(job.status)) }
                div.actions { (actions(&ctx, &job, now)) }
            }
            @if let Some(p) = job.progress {
                p.progress { "Progress " progress value=(p) max="1" {} " " (format!("{:.0} %", p * 100.0)) }
            }
            dl.record {
                dt { "queue" } dd { a href=(ctx.href(&format!("/jobs?{}", pair("queue", &job.queue)))) { (job.queue) } }
                dt { "priority" } dd { (job.priority) }
                dt { "attempts" } dd { (job.attempts) " of " (job.max_attempts)
                    @if job.interruptions > 0 { " (" (job.interruptions) " interrupted)" } }
                dt { "created" } dd { (time(job.created_at, now)) }
                dt { "run at" } dd { (time(job.run_at, now)) }
                dt { "started" } dd { (maybe_time(job.started_at, now)) }
                dt { "finished" } dd { (maybe_time(job.finished_at, now)) }
                @if let Some(owner) = &job.lease_owner {
                    dt { "lease" } dd { (owner) " until " (maybe_time(job.lease_expires_at, now)) }
                }
                @if let Some(key) = &job.unique_key { dt { "unique key" } dd { code { (key) } } }
                @if let Some(schedule) = &job.schedule {
                    dt { "schedule" } dd { a href=(ctx.href("/schedules")) { (schedule) }
                        @if let Some(tick) = job.schedule_tick { " tick " (time(tick, now)) } }
                }
                @if let Some(flow_id) = job.flow {
                    dt { "flow" } dd { a href=(ctx.href(&format!("/flows/{flow_id}"))) {
                        @if let Some(flow) = &flow { (flow.name) } @else { "flow " (flow_id) } }
                        @if let Some(step) = &job.flow_step { " step " code { (step) } } }
                }
            }
            @if let Some(error) = &job.last_error {
                h2 { "Last error" }
                pre.error-text { (error) }
            }
            div.columns {
                section { h2 { "Payload" } pre.json { (json(&job.payload)) } }
                section { h2 { "Result" }
                    @match &job.result { Some(result) => pre.json { (json(result)) }, None => p.none { "No result yet." } } }
            }
            @if let Some(flow) = &flow {
                h2 { "Flow " a href=(ctx.href(&format!("/flows/{}", flow.id))) { (flow.name) } }
                div.graph { (svg::flow_graph(flow, Some(job.id), |id| ctx.href(&format!("/jobs/{id}")))) }
            }
            h2 { "Attempts" }
            @if attempts.is_empty() { p.none { "No attempt yet." } }
            @else {
                table.attempts {
                    thead { tr { th.num { "#" } th { "worker" } th { "started" } th { "finished" } th.num { "took" } th { "error" } } }
                    tbody { @for attempt in &attempts { tr {
                        td.num { (attempt.attempt) }
                        td { @if let Some(worker) = &attempt.worker { code { (worker) } } }
                        td { (time(attempt.started_at, now)) }
                        td { (maybe_time(attempt.finished_at, now)) }
                        td.num { (took(attempt.started_at, attempt.finished_at)) }
                        td { @if let Some(error) = &attempt.error { pre.error-text { (error) } } }
                    } } }
                }
            }
            h2 { "Log" }
            @if logs.is_empty() { p.none { "No log lines." } }
            @else {
                table.logs {
                    thead { tr { th.num { "attempt" } th { "at" } th { "level" } th { "message" } } }
                    tbody { @for line in &logs { tr class={ "level-" (line.level.as_str()) } {
                        td.num { (line.attempt) }
                        td { (line.at.format("%H:%M:%S%.3f")) }
                        td { (line.level.as_str()) }
                        td { pre.log-text { (line.message) } }
                    } } }
                }
            }
        }
    };
    let refresh = running || flow.as_ref().is_some_and(|flow| !flow.status.is_finished());
    shell(&ctx, &title, Nav::Jobs, refresh, body).into_response()
}

fn took(started: DateTime<Utc>, finished: Option<DateTime<Utc>>) -> String {
    finished
        .and_then(|end| end.signed_duration_since(started).to_std().ok())
        .map_or_else(|| "—".to_owned(), duration)
}

fn pair(key: &str, value: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair(key, value)
        .finish()
}

/// The buttons of the actions the job's status allows.
fn actions(ctx: &Ctx, job: &JobRecord, now: DateTime<Utc>) -> Markup {
    let path = |action: &str| format!("/jobs/{}/{action}", job.id);
    let s = job.status;
    html! {
        @if matches!(s, JobStatus::Failed | JobStatus::Cancelled | JobStatus::Retrying) {
            (ctx.button(&path("retry"), &[], "Retry", "primary"))
        }
        @if (s == JobStatus::Pending && job.run_at > now) || s == JobStatus::Retrying {
            (ctx.button(&path("run"), &[], "Run now", ""))
        }
        @if matches!(s, JobStatus::Pending | JobStatus::Retrying | JobStatus::Blocked | JobStatus::Running) {
            (ctx.button(&path("cancel"), &[], "Cancel", ""))
        }
        @if s != JobStatus::Running {
            (ctx.button(&path("delete"), &[], "Delete", "danger"))
        }
    }
}

/// `POST /jobs/{id}/{action}`: retry, cancel, delete or run now, then back to the
/// job (or to the list, after a delete) with what happened.
pub(crate) async fn action(
    State(ops): State<Ops>,
    ctx: Ctx,
    Path((id, action)): Path<(String, String)>,
) -> Response {
    let id = match path_id::<JobId>(&ctx, &id, "job") {
        Ok(id) => id,
        Err(page) => return page,
    };
    let result = match action.as_str() {
        "retry" => ops.retry(id).await,
        "cancel" => ops.cancel(id).await,
        "delete" => ops.delete(id).await,
        "run" => ops.make_due(id).await,
        _ => {
            return problem(
                &ctx,
                StatusCode::NOT_FOUND,
                "Unknown action",
                "A job can be retried, cancelled, deleted or run now.",
            );
        }
    };
    match result {
        Ok(true) if action == "delete" => ctx.after("/jobs", "delete", true),
        Ok(ok) => ctx.after(&format!("/jobs/{id}"), &action, ok),
        Err(err) => failure(&ctx, &err),
    }
}

//! Queues: depths, and pause and resume.

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use maud::html;

use super::{Ctx, Nav, Ops, duration, failure, maybe_time, notice, problem, query_pairs, shell};

pub(crate) async fn page(State(ops): State<Ops>, ctx: Ctx, uri: Uri) -> Response {
    let queues = match ops.queues().await {
        Ok(queues) => queues,
        Err(err) => return failure(&ctx, &err),
    };
    let now = Utc::now();
    let body = html! {
        h1 { "Queues" }
        (notice(&query_pairs(uri.query())))
        div #queues-live data-live {
            @if queues.is_empty() { p.none { "No queue has unfinished jobs, and none is paused." } }
            @else {
                table.queues {
                    thead { tr { th { "queue" } th { "state" } th.num { "pending" } th.num { "running" } th.num { "oldest pending waited" } th {} } }
                    tbody { @for queue in &queues { tr data-queue=(queue.name) {
                        td { a href=(ctx.href(&format!("/jobs?{}", form_urlencoded::Serializer::new(String::new()).append_pair("queue", &queue.name).finish()))) { (queue.name) } }
                        td { @if queue.paused { span.badge.paused { "paused" } " since " (maybe_time(queue.paused_at, now)) } @else { "running" } }
                        td.num { (queue.pending) }
                        td.num { (queue.running) }
                        td.num { (queue.oldest_pending_age.map_or_else(|| "—".to_owned(), duration)) }
                        td { @if queue.paused {
                                (ctx.button("/queues/action", &[("queue", &queue.name), ("action", "resume")], "Resume", "primary"))
                            } @else {
                                (ctx.button("/queues/action", &[("queue", &queue.name), ("action", "pause")], "Pause", ""))
                            } }
                    } } }
                }
            }
        }
        @if !ctx.read_only {
            form.inline.pause-by-name method="post" action=(ctx.href("/queues/action")) {
                (ctx.csrf_field())
                input type="hidden" name="action" value="pause";
                label { "Pause a queue by name (even one without jobs yet) "
                    input type="text" name="queue" required size="14"; }
                button type="submit" { "Pause" }
            }
        }
    };
    shell(&ctx, "Queues", Nav::Queues, true, body).into_response()
}

/// `POST /queues/action`: `queue` and `action` (`pause` or `resume`).
pub(crate) async fn action(State(ops): State<Ops>, ctx: Ctx, body: String) -> Response {
    let form = query_pairs(Some(&body));
    let get = |key: &str| form.iter().find(|(k, _)| k == key).map(|(_, v)| v.trim());
    let queue = get("queue").unwrap_or("");
    if queue.is_empty() {
        return problem(
            &ctx,
            StatusCode::BAD_REQUEST,
            "No queue",
            "Name the queue to pause or resume.",
        );
    }
    let (done, result) = match get("action") {
        Some("pause") => ("pause", ops.pause_queue(queue).await),
        Some("resume") => ("resume", ops.resume_queue(queue).await),
        _ => {
            return problem(
                &ctx,
                StatusCode::BAD_REQUEST,
                "Unknown action",
                "A queue can be paused or resumed.",
            );
        }
    };
    match result {
        Ok(ok) => ctx.after("/queues", done, ok),
        Err(err) => failure(&ctx, &err),
    }
}

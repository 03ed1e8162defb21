//! Schedules: next and last run, pause, resume, run now.

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use maud::html;

use super::{Ctx, Nav, Ops, failure, maybe_time, notice, problem, query_pairs, shell, time};

pub(crate) async fn page(State(ops): State<Ops>, ctx: Ctx, uri: Uri) -> Response {
    let schedules = match ops.schedules().await {
        Ok(schedules) => schedules,
        Err(err) => return failure(&ctx, &err),
    };
    let now = Utc::now();
    let body = html! {
        h1 { "Schedules" }
        (notice(&query_pairs(uri.query())))
        div #schedules-live data-live {
            @if schedules.is_empty() { p.none { "No schedule: declare one with #[job(cron = …)] or Kiribi::schedule." } }
            @else {
                table.schedules {
                    thead { tr { th { "schedule" } th { "job" } th { "cron" } th { "queue" } th { "next run" } th { "last run" } th { "last job" } th { "state" } th {} } }
                    tbody { @for s in &schedules { tr data-schedule=(s.name) {
                        td { (s.name) }
                        td { a href=(ctx.href(&format!("/jobs?{}", form_urlencoded::Serializer::new(String::new()).append_pair("name", &s.job_name).finish()))) { (s.job_name) } }
                        td { code { (s.cron) } @if s.timezone != "UTC" { " " span.small { (s.timezone) } } }
                        td { (s.queue) }
                        td { @if s.paused { span.none { "—" } } @else { (time(s.next_run_at, now)) } }
                        td { (maybe_time(s.last_run_at, now)) }
                        td { @if let Some(id) = s.last_job_id { a href=(ctx.href(&format!("/jobs/{id}"))) { (id) } } }
                        td { @if s.paused { span.badge.paused { "paused" } } @else { "active" } }
                        td.actions {
                            @if s.paused {
                                (ctx.button("/schedules/action", &[("schedule", &s.name), ("action", "resume")], "Resume", "primary"))
                            } @else {
                                (ctx.button("/schedules/action", &[("schedule", &s.name), ("action", "pause")], "Pause", ""))
                            }
                            (ctx.button("/schedules/action", &[("schedule", &s.name), ("action", "run")], "Run now", ""))
                        }
                    } } }
                }
            }
        }
    };
    shell(&ctx, "Schedules", Nav::Schedules, true, body).into_response()
}

/// `POST /schedules/action`: `schedule` and `action` (`pause`, `resume` or `run`).
pub(crate) async fn action(State(ops): State<Ops>, ctx: Ctx, body: String) -> Response {
    let form = query_pairs(Some(&body));
    let get = |key: &str| form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let name = get("schedule").unwrap_or("");
    match get("action") {
        Some("pause") => match ops.pause_schedule(name).await {
            Ok(ok) => ctx.after("/schedules", "pause_schedule", ok),
            Err(err) => failure(&ctx, &err),
        },
        Some("resume") => match ops.resume_schedule(name).await {
            Ok(ok) => ctx.after("/schedules", "resume_schedule", ok),
            Err(err) => failure(&ctx, &err),
        },
        Some("run") => match ops.run_schedule_now(name).await {
            Ok(Some(id)) => ctx.after(&format!("/jobs/{id}"), "run_schedule", true),
            Ok(None) => ctx.after("/schedules", "run_schedule", false),
            Err(err) => failure(&ctx, &err),
        },
        _ => problem(
            &ctx,
            StatusCode::BAD_REQUEST,
            "Unknown action",
            "A schedule can be paused, resumed or run now.",
        ),
    }
}

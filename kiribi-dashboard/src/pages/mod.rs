//! The pages: the shell every page shares, the formatting of values, and the
//! answers that are not pages (assets, refusals, errors).

pub(crate) mod flows;
pub(crate) mod job;
pub(crate) mod jobs;
pub(crate) mod overview;
pub(crate) mod queues;
pub(crate) mod schedules;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use kiribi_core::JobStatus;
use maud::{DOCTYPE, Markup, html};

use crate::Operations;
use crate::security::CSRF_FIELD;

/// The operations every handler reaches, as router state.
pub(crate) type Ops = Arc<dyn Operations>;

const STYLE: &str = include_str!("../../assets/style.css");
const SCRIPT: &str = include_str!("../../assets/app.js");

/// What the guard learnt about a request, for the page that answers it.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    /// Where the dashboard is mounted (`/admin/jobs`, or empty).
    pub(crate) base: String,
    /// The CSRF token the page's forms carry.
    pub(crate) csrf: String,
    pub(crate) read_only: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Ctx>()
            .cloned()
            .ok_or_else(|| StatusCode::INTERNAL_SERVER_ERROR.into_response())
    }
}

impl Ctx {
    /// An address inside the dashboard: `path` starts with `/`.
    pub(crate) fn href(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The hidden field that makes a form an accepted action.
    pub(crate) fn csrf_field(&self) -> Markup {
        html! { input type="hidden" name=(CSRF_FIELD) value=(self.csrf); }
    }

    /// A one-button `POST` form: an action on `path` with `fields`.
    pub(crate) fn button(
        &self,
        path: &str,
        fields: &[(&str, &str)],
        label: &str,
        class: &str,
    ) -> Markup {
        if self.read_only {
            return html! {};
        }
        html! {
            form.inline method="post" action=(self.href(path)) {
                (self.csrf_field())
                @for (name, value) in fields {
                    input type="hidden" name=(name) value=(value);
                }
                button type="submit" class=(class) { (label) }
            }
        }
    }

    /// Where to go after an action: `path` with the notice of what happened.
    pub(crate) fn after(&self, path: &str, done: &str, ok: bool) -> Response {
        let separator = if path.contains('?') { '&' } else { '?' };
        let ok = u8::from(ok);
        Redirect::to(&format!(
            "{}{separator}done={done}&ok={ok}",
            self.href(path)
        ))
        .into_response()
    }
}

/// The sections of the navigation bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Nav {
    Overview,
    Jobs,
    Queues,
    Schedules,
    Flows,
}

impl Nav {
    const ALL: [(Nav, &'static str, &'static str); 5] = [
        (Nav::Overview, "Overview", "/"),
        (Nav::Jobs, "Jobs", "/jobs"),
        (Nav::Queues, "Queues", "/queues"),
        (Nav::Schedules, "Schedules", "/schedules"),
        (Nav::Flows, "Flows", "/flows"),
    ];
}

/// A whole page: head, navigation, `body`. With `refresh`, the script refreshes the
/// page's `data-live` parts every 2 seconds (longer after a slow refresh).
pub(crate) fn shell(ctx: &Ctx, title: &str, nav: Nav, refresh: bool, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · kiribi" }
                link rel="stylesheet" href=(ctx.href("/assets/style.css"));
                script src=(ctx.href("/assets/app.js")) defer {}
            }
            body data-refresh[refresh] {
                header.top {
                    a.brand href=(ctx.href("/")) { "kiribi" }
                    nav {
                        @for (section, label, path) in Nav::ALL {
                            a href=(ctx.href(path)) class=[(section == nav).then_some("current")] { (label) }
                        }
                    }
                    span.spacer {}
                    @if ctx.read_only { span.badge.read-only title="Actions are disabled" { "read-only" } }
                    @if refresh {
                        label.refresh title="Refresh the figures every 2 seconds" {
                            input #auto-refresh type="checkbox" checked;
                            " live"
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// A page of its own for a refused request (the guard's answers): no navigation,
/// since the refused browser may not load the rest.
pub(crate) fn refusal(status: StatusCode, title: &str, message: &str) -> Response {
    let body = html! {
        (DOCTYPE)
        html lang="en" {
            head { meta charset="utf-8"; title { (title) " · kiribi" } }
            body { h1 { (title) } p.refusal { (message) } }
        }
    };
    (status, body).into_response()
}

/// A page that says what went wrong, inside the shell.
pub(crate) fn problem(ctx: &Ctx, status: StatusCode, title: &str, message: &str) -> Response {
    let body = html! {
        h1 { (title) }
        p.error { (message) }
        p { a href=(ctx.href("/")) { "Back to the overview" } }
    };
    (status, shell(ctx, title, Nav::Overview, false, body)).into_response()
}

/// The page for a database error.
/// The id of a job or flow (`what`) from a path, or the 400 page that says why it is
/// not one.
#[allow(
    clippy::result_large_err,
    reason = "the error is the page the handler answers with at once"
)]
pub(crate) fn path_id<T>(ctx: &Ctx, raw: &str, what: &str) -> Result<T, Response>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    raw.parse::<T>().map_err(|err| {
        problem(
            ctx,
            StatusCode::BAD_REQUEST,
            &format!("Bad {what} id"),
            &err.to_string(),
        )
    })
}

pub(crate) fn failure(ctx: &Ctx, error: &kiribi_core::Error) -> Response {
    problem(
        ctx,
        StatusCode::INTERNAL_SERVER_ERROR,
        "The job store failed",
        &kiribi_core::chain_text(error),
    )
}

/// A page for an unknown address.
pub(crate) async fn not_found(ctx: Ctx) -> Response {
    problem(
        &ctx,
        StatusCode::NOT_FOUND,
        "Not found",
        "There is no such page.",
    )
}

/// The embedded stylesheet and script.
pub(crate) async fn asset(Path(file): Path<String>) -> Response {
    let (body, kind) = match file.as_str() {
        "style.css" => (STYLE, "text/css; charset=utf-8"),
        "app.js" => (SCRIPT, "text/javascript; charset=utf-8"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response()
}

/// The notice an action's redirect asks for (`?done=retry&ok=1`); a fixed text per
/// code, so that a link cannot make the page say anything else.
pub(crate) fn notice(query: &[(String, String)]) -> Markup {
    let get = |key: &str| {
        query
            .iter()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_str())
    };
    let ok = get("ok") == Some("1");
    let text = match (get("done"), ok) {
        (Some("retry"), true) => "Retried: the job is ready to run.",
        (Some("retry"), false) => {
            "Not retried: only a failed, cancelled or retrying job can be retried."
        }
        (Some("cancel"), true) => "Cancelled (a running job is asked to stop).",
        (Some("cancel"), false) => "Not cancelled: the job has finished.",
        (Some("delete"), true) => "Deleted.",
        (Some("delete"), false) => "Not deleted: the job is running, or was deleted already.",
        (Some("run"), true) => "The job runs as soon as a worker is free.",
        (Some("run"), false) => "Not moved: the job is due, running or finished already.",
        (Some("pause"), true) => "Queue paused: no worker claims its jobs until it is resumed.",
        (Some("pause"), false) => "The queue was paused already.",
        (Some("resume"), true) => "Queue resumed.",
        (Some("resume"), false) => "The queue was not paused.",
        (Some("pause_schedule"), true) => "Schedule paused.",
        (Some("resume_schedule"), true) => "Schedule resumed.",
        (Some("run_schedule"), true) => "Enqueued by its schedule, now.",
        (Some("pause_schedule" | "resume_schedule" | "run_schedule"), false) => {
            "There is no such schedule."
        }
        (Some("cancel_flow"), true) => "Flow cancelled.",
        (Some("cancel_flow"), false) => "Nothing to cancel: every step has finished.",
        _ => return html! {},
    };
    html! { p.notice.ok[ok].failed[!ok] role="status" { (text) } }
}

/// The pairs of a query string, decoded.
pub(crate) fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .into_owned()
        .collect()
}

/// A status as a coloured badge.
pub(crate) fn status(status: JobStatus) -> Markup {
    html! { span class={ "status status-" (status.as_str()) } { (status.as_str()) } }
}

/// An instant in UTC, with how long ago (or from now) it is.
pub(crate) fn time(at: DateTime<Utc>, now: DateTime<Utc>) -> Markup {
    let delta = now.signed_duration_since(at);
    let relative = match delta.to_std() {
        Ok(ago) => format!("{} ago", short(ago)),
        Err(_) => format!("in {}", short((-delta).to_std().unwrap_or(Duration::ZERO))),
    };
    html! {
        time datetime=(at.to_rfc3339()) title=(relative) {
            (at.format("%Y-%m-%d %H:%M:%S"))
        }
        " " span.ago { (relative) }
    }
}

/// An optional instant, or a dash.
pub(crate) fn maybe_time(at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Markup {
    match at {
        Some(at) => time(at, now),
        None => html! { span.none { "—" } },
    }
}

/// A duration for people: `850 ms`, `2.35 s`, `3m 20s`, `2h 5m`, `3d 4h`.
pub(crate) fn duration(d: Duration) -> String {
    let millis = d.as_secs_f64() * 1000.0;
    if millis < 1.0 {
        format!("{} µs", d.as_micros())
    } else if millis < 1000.0 {
        format!("{millis:.1} ms")
    } else if d.as_secs() < 60 {
        format!("{:.2} s", d.as_secs_f64())
    } else {
        short(d)
    }
}

/// A coarse duration: the two largest units.
fn short(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {}s", s / 60, s % 60),
        3600..86_400 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// An optional duration, or a dash.
pub(crate) fn maybe_duration(d: Option<Duration>) -> String {
    d.map_or_else(|| "—".to_owned(), duration)
}

/// A JSON value, indented.
pub(crate) fn json(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

/// The first `max` characters of `text`, with an ellipsis if it was longer.
pub(crate) fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_say_them() {
        assert_eq!(duration(Duration::from_micros(250)), "250 µs");
        assert_eq!(duration(Duration::from_millis(850)), "850.0 ms");
        assert_eq!(duration(Duration::from_millis(2350)), "2.35 s");
        assert_eq!(duration(Duration::from_secs(200)), "3m 20s");
        assert_eq!(duration(Duration::from_secs(7500)), "2h 5m");
        assert_eq!(
            duration(Duration::from_secs(3 * 86_400 + 4 * 3600)),
            "3d 4h"
        );
    }

    #[test]
    fn clipping_counts_characters_not_bytes() {
        assert_eq!(clip("héllo wörld", 5), "héllo…");
        assert_eq!(clip("short", 10), "short");
    }
}

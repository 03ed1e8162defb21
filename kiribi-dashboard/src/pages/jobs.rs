//! The jobs list, with its filter and keyset paging, and bulk actions on selected
//! jobs or on every job a filter matches, each after a confirmation.

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use kiribi_core::{JobId, JobRecord, JobStatus};
use maud::{Markup, html};

use super::{
    Ctx, Nav, Ops, clip, failure, maybe_time, notice, problem, query_pairs, shell, status, time,
};
use crate::filter::{JobQuery, TimeField};

/// Jobs acted on per read when a bulk action walks a filter.
const BULK_BATCH: usize = 500;
/// Selected ids listed on a confirmation page.
const LISTED: usize = 50;

pub(crate) async fn page(State(ops): State<Ops>, ctx: Ctx, uri: Uri) -> Response {
    let pairs = query_pairs(uri.query());
    let now = Utc::now();
    let (query, errors) = JobQuery::parse(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())), now);
    let form = filter_form(&ctx, &query);
    if !errors.is_empty() {
        let body = html! {
            h1 { "Jobs" }
            (form)
            div.error role="alert" {
                p { "The filter cannot be used:" }
                ul { @for error in &errors { li { (error) } } }
            }
        };
        return (
            StatusCode::BAD_REQUEST,
            shell(&ctx, "Jobs", Nav::Jobs, false, body),
        )
            .into_response();
    }
    // One more than a page says whether there is an older page, without counting.
    let mut jobs = match ops.jobs(query.to_filter(query.limit + 1)).await {
        Ok(jobs) => jobs,
        Err(err) => return failure(&ctx, &err),
    };
    let older = jobs.len() > query.limit;
    jobs.truncate(query.limit);
    let next = older.then(|| jobs.last().map(|job| job.id)).flatten();
    let body = html! {
        h1 { "Jobs" }
        (notice(&pairs))
        (form)
        div #jobs-live data-live {
            (job_table(&ctx, &query, &jobs, now))
            nav.pager {
                @if query.before.is_some() {
                    a href={ (ctx.href("/jobs")) "?" (query.query_string(None)) } { "← Newest" }
                }
                @if let Some(next) = next {
                    a.older href={ (ctx.href("/jobs")) "?" (query.query_string(Some(next))) } { "Older →" }
                }
            }
        }
    };
    shell(&ctx, "Jobs", Nav::Jobs, true, body).into_response()
}

fn filter_form(ctx: &Ctx, query: &JobQuery) -> Markup {
    let time_input = |name: &str, label: &str, field: &TimeField| {
        html! {
            label { (label)
                input type="text" name=(name) value=(field.raw) placeholder="2h, or 2025-01-31 14:00" size="16";
            }
        }
    };
    html! {
        form.filter #filter method="get" action=(ctx.href("/jobs")) {
            label { "Status"
                select name="status" {
                    option value="" { "any" }
                    @for s in JobStatus::ALL {
                        option value=(s.as_str()) selected[query.status == Some(s)] { (s.as_str()) }
                    }
                    @if query.status.is_none() && !query.raw_status.is_empty() {
                        option value=(query.raw_status) selected { (query.raw_status) }
                    }
                }
            }
            label { "Name" input type="text" name="name" value=(query.name) size="14"; }
            label { "Queue" input type="text" name="queue" value=(query.queue) size="10"; }
            label { "Text in payload or error" input type="search" name="text" value=(query.text) size="18"; }
            (time_input("created_after", "Created after", &query.created_after))
            (time_input("created_before", "Created before", &query.created_before))
            (time_input("finished_after", "Finished after", &query.finished_after))
            (time_input("finished_before", "Finished before", &query.finished_before))
            @if !query.raw_limit.is_empty() { input type="hidden" name="limit" value=(query.raw_limit); }
            div.buttons {
                button type="submit" { "Filter" }
                a href=(ctx.href("/jobs")) { "Clear" }
            }
            p.hint { "Times are UTC; a duration such as 2h means that long ago." }
        }
    }
}

fn job_table(
    ctx: &Ctx,
    query: &JobQuery,
    jobs: &[JobRecord],
    now: chrono::DateTime<Utc>,
) -> Markup {
    if jobs.is_empty() {
        return html! { p.none { "No job matches." } };
    }
    let actions = !ctx.read_only;
    let table = html! {
        table.jobs {
            thead { tr {
                @if actions { th { input type="checkbox" data-select-all aria-label="Select every job on this page"; } }
                th.num { "id" } th { "name" } th { "queue" } th { "status" } th.num { "attempts" }
                th { "created" } th { "run at / finished" } th { "last error" }
            } }
            tbody {
                @for job in jobs {
                    tr data-job=(job.id) {
                        @if actions { td { input type="checkbox" name="id" value=(job.id) aria-label={ "Select job " (job.id) }; } }
                        td.num { a href=(ctx.href(&format!("/jobs/{}", job.id))) { (job.id) } }
                        td { a href=(ctx.href(&format!("/jobs/{}", job.id))) { (job.name) } }
                        td { (job.queue) }
                        td { (status(job.status))
                            @if let Some(p) = job.progress { @if !job.status.is_finished() {
                                " " progress value=(p) max="1" title={ (format!("{:.0} %", p * 100.0)) } {}
                            } }
                        }
                        td.num { (job.attempts) "/" (job.max_attempts) }
                        td { (time(job.created_at, now)) }
                        td { @if job.finished_at.is_some() { (maybe_time(job.finished_at, now)) } @else { (time(job.run_at, now)) } }
                        td.error-cell { @if let Some(error) = &job.last_error { span title=(clip(error, 2000)) { (clip(error, 120)) } } }
                    }
                }
            }
        }
    };
    if !actions {
        return table;
    }
    html! {
        form #bulk method="post" action=(ctx.href("/jobs/bulk")) {
            (ctx.csrf_field())
            input type="hidden" name="filter" value=(query.query_string(None));
            div.bulk {
                span { "Selected: " }
                button type="submit" name="op" value="retry-selected" { "Retry" }
                button type="submit" name="op" value="cancel-selected" { "Cancel" }
                button.danger type="submit" name="op" value="delete-selected" { "Delete" }
                span.sep { "Every job matching the filter: " }
                button type="submit" name="op" value="retry-filter" { "Retry all" }
                button type="submit" name="op" value="cancel-filter" { "Cancel all" }
                button.danger type="submit" name="op" value="delete-filter" { "Delete all" }
            }
            (table)
        }
    }
}

/// A bulk action: what it does and on which jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Retry,
    Cancel,
    Delete,
}

impl Verb {
    fn parse(op: &str) -> Option<(Self, bool)> {
        let (verb, scope) = op.split_once('-')?;
        let verb = match verb {
            "retry" => Verb::Retry,
            "cancel" => Verb::Cancel,
            "delete" => Verb::Delete,
            _ => return None,
        };
        match scope {
            "selected" => Some((verb, false)),
            "filter" => Some((verb, true)),
            _ => None,
        }
    }

    fn word(self) -> &'static str {
        match self {
            Verb::Retry => "retry",
            Verb::Cancel => "cancel",
            Verb::Delete => "delete",
        }
    }

    fn done(self) -> &'static str {
        match self {
            Verb::Retry => "Retried",
            Verb::Cancel => "Cancelled",
            Verb::Delete => "Deleted",
        }
    }

    async fn apply(self, ops: &Ops, id: JobId) -> kiribi_core::Result<bool> {
        match self {
            Verb::Retry => ops.retry(id).await,
            Verb::Cancel => ops.cancel(id).await,
            Verb::Delete => ops.delete(id).await,
        }
    }
}

/// `POST /jobs/bulk`: without `confirm=yes`, the confirmation page; with it, the
/// action and a page that says how many jobs it changed.
pub(crate) async fn bulk(State(ops): State<Ops>, ctx: Ctx, body: String) -> Response {
    let form: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let get = |key: &str| form.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let Some((verb, by_filter)) = get("op").and_then(Verb::parse) else {
        return problem(
            &ctx,
            StatusCode::BAD_REQUEST,
            "Unknown action",
            "Choose retry, cancel or delete, for the selected jobs or for every job matching the filter.",
        );
    };
    let filter_text = get("filter").unwrap_or("");
    let filter_pairs = query_pairs(Some(filter_text));
    let (query, errors) = JobQuery::parse(
        filter_pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        Utc::now(),
    );
    let back = format!("{}?{}", ctx.href("/jobs"), query.query_string(None));
    if !errors.is_empty() {
        return problem(
            &ctx,
            StatusCode::BAD_REQUEST,
            "The filter cannot be used",
            &errors.join(" "),
        );
    }
    let mut ids = Vec::new();
    if !by_filter {
        for (key, value) in &form {
            if key == "id" {
                match value.parse::<JobId>() {
                    Ok(id) => ids.push(id),
                    Err(err) => {
                        return problem(
                            &ctx,
                            StatusCode::BAD_REQUEST,
                            "Bad selection",
                            &err.to_string(),
                        );
                    }
                }
            }
        }
        if ids.is_empty() {
            let body = html! {
                h1 { "Nothing selected" }
                p { "Tick the jobs to " (verb.word()) ", or use the buttons that act on every job matching the filter." }
                p { a href=(back) { "Back to the jobs" } }
            };
            return (
                StatusCode::BAD_REQUEST,
                shell(&ctx, "Nothing selected", Nav::Jobs, false, body),
            )
                .into_response();
        }
    }
    let confirmed = get("confirm") == Some("yes");
    if !confirmed {
        let matching = if by_filter {
            match ops.count(query.criteria()).await {
                Ok(n) => Some(n),
                Err(err) => return failure(&ctx, &err),
            }
        } else {
            None
        };
        let what = match matching {
            Some(n) => format!(
                "{} every job matching the filter ({n} now)?",
                capitalise(verb.word())
            ),
            None => format!(
                "{} {} selected job{}?",
                capitalise(verb.word()),
                ids.len(),
                plural(ids.len())
            ),
        };
        let body = html! {
            h1 { "Confirm" }
            p.confirm-question { (what) }
            @if by_filter {
                p { "Filter: " @if query.is_empty() { strong { "none: every job" } } @else { code { (query.describe()) } } }
            } @else {
                p { "Jobs: "
                    @for (i, id) in ids.iter().take(LISTED).enumerate() {
                        @if i > 0 { ", " }
                        a href=(ctx.href(&format!("/jobs/{id}"))) { (id) }
                    }
                    @if ids.len() > LISTED { " and " (ids.len() - LISTED) " more" }
                }
            }
            @if verb == Verb::Delete { p.warning { "Deleting removes the jobs with their attempts and logs; it cannot be undone." } }
            form method="post" action=(ctx.href("/jobs/bulk")) {
                (ctx.csrf_field())
                input type="hidden" name="op" value=(get("op").unwrap_or(""));
                input type="hidden" name="filter" value=(filter_text);
                @for id in &ids { input type="hidden" name="id" value=(id); }
                input type="hidden" name="confirm" value="yes";
                button #confirm type="submit" class=[(verb == Verb::Delete).then_some("danger")] { "Yes, " (verb.word()) }
                " " a href=(back) { "No, back to the jobs" }
            }
        };
        return shell(&ctx, "Confirm", Nav::Jobs, false, body).into_response();
    }

    let (mut changed, mut seen) = (0u64, 0u64);
    if by_filter {
        // Walk the filter down by id: each batch starts below the last one, so a
        // job whose status the action changed is neither skipped nor seen twice.
        let mut cursor: Option<JobId> = None;
        loop {
            let mut filter = query.criteria().limit(BULK_BATCH);
            if let Some(before) = cursor {
                filter = filter.before(before);
            }
            let batch = match ops.jobs(filter).await {
                Ok(batch) => batch,
                Err(err) => return failure(&ctx, &err),
            };
            for job in &batch {
                seen += 1;
                match verb.apply(&ops, job.id).await {
                    Ok(true) => changed += 1,
                    Ok(false) => {}
                    Err(err) => return failure(&ctx, &err),
                }
            }
            if batch.len() < BULK_BATCH {
                break;
            }
            cursor = batch.last().map(|job| job.id);
        }
    } else {
        for id in &ids {
            seen += 1;
            match verb.apply(&ops, *id).await {
                Ok(true) => changed += 1,
                Ok(false) => {}
                Err(err) => return failure(&ctx, &err),
            }
        }
    }
    let body = html! {
        h1 { (verb.done()) }
        p.notice.ok #bulk-result role="status" {
            (verb.done()) " " (changed) " of " (seen) " job" (plural_u64(seen)) "."
            @if changed < seen { " The others were not in a state to " (verb.word()) "." }
        }
        p { a href=(back) { "Back to the jobs" } }
    };
    shell(&ctx, verb.done(), Nav::Jobs, false, body).into_response()
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn plural_u64(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

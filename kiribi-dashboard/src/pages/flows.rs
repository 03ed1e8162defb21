//! Flows: the list, one flow's steps as a graph and a table, cancel.

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use kiribi_core::{FlowFilter, FlowId, FlowRecord, FlowStatus, JobStatus};
use maud::{Markup, html};

use super::{
    Ctx, Nav, Ops, failure, maybe_time, notice, path_id, problem, query_pairs, shell, status, time,
};
use crate::svg;

const PAGE_SIZE: usize = 50;

pub(crate) async fn page(State(ops): State<Ops>, ctx: Ctx, uri: Uri) -> Response {
    let pairs = query_pairs(uri.query());
    let get = |key: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    };
    let mut filter = FlowFilter::new().limit(PAGE_SIZE + 1);
    let mut errors = Vec::new();
    let chosen = get("status");
    if let Some(raw) = chosen {
        match raw.parse::<FlowStatus>() {
            Ok(status) => filter = filter.status(status),
            Err(err) => errors.push(format!("Status: {err}.")),
        }
    }
    let mut newest = true;
    if let Some(raw) = get("before") {
        match raw.parse::<FlowId>() {
            Ok(before) => {
                filter = filter.before(before);
                newest = false;
            }
            Err(err) => errors.push(format!("Page cursor: {err}.")),
        }
    }
    let form = html! {
        form.filter method="get" action=(ctx.href("/flows")) {
            label { "Status" select name="status" {
                option value="" { "any" }
                @for s in FlowStatus::ALL { option value=(s.as_str()) selected[chosen == Some(s.as_str())] { (s.as_str()) } }
            } }
            button type="submit" { "Filter" }
        }
    };
    if !errors.is_empty() {
        let body = html! { h1 { "Flows" } (form) div.error role="alert" { ul { @for e in &errors { li { (e) } } } } };
        return (
            StatusCode::BAD_REQUEST,
            shell(&ctx, "Flows", Nav::Flows, false, body),
        )
            .into_response();
    }
    let mut flows = match ops.flows(filter).await {
        Ok(flows) => flows,
        Err(err) => return failure(&ctx, &err),
    };
    let older = flows.len() > PAGE_SIZE;
    flows.truncate(PAGE_SIZE);
    let status_query = chosen
        .map(|s| {
            format!(
                "status={}&",
                form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
            )
        })
        .unwrap_or_default();
    let now = Utc::now();
    let body = html! {
        h1 { "Flows" }
        (form)
        div #flows-live data-live {
            @if flows.is_empty() { p.none { "No flow matches." } }
            @else {
                table.flows {
                    thead { tr { th.num { "id" } th { "name" } th { "status" } th { "steps" } th { "created" } } }
                    tbody { @for flow in &flows { tr {
                        td.num { a href=(ctx.href(&format!("/flows/{}", flow.id))) { (flow.id) } }
                        td { a href=(ctx.href(&format!("/flows/{}", flow.id))) { (flow.name) } }
                        td { (flow_status(flow.status)) }
                        td { (step_summary(flow)) }
                        td { (time(flow.created_at, now)) }
                    } } }
                }
            }
            nav.pager {
                @if !newest { a href={ (ctx.href("/flows")) "?" (status_query) } { "← Newest" } }
                @if older { @if let Some(last) = flows.last() {
                    a.older href={ (ctx.href("/flows")) "?" (status_query) "before=" (last.id) } { "Older →" }
                } }
            }
        }
    };
    shell(&ctx, "Flows", Nav::Flows, true, body).into_response()
}

fn flow_status(s: FlowStatus) -> Markup {
    html! { span class={ "status status-" (s.as_str()) } { (s.as_str()) } }
}

/// How many steps are in each status: `2 succeeded, 1 running`.
fn step_summary(flow: &FlowRecord) -> String {
    let parts: Vec<String> = JobStatus::ALL
        .into_iter()
        .filter_map(|s| {
            let n = flow
                .steps
                .iter()
                .filter(|step| step.job.status == s)
                .count();
            (n > 0).then(|| format!("{n} {}", s.as_str()))
        })
        .collect();
    parts.join(", ")
}

pub(crate) async fn detail(
    State(ops): State<Ops>,
    ctx: Ctx,
    Path(id): Path<String>,
    uri: Uri,
) -> Response {
    let id = match path_id::<FlowId>(&ctx, &id, "flow") {
        Ok(id) => id,
        Err(page) => return page,
    };
    let flow = match ops.flow(id).await {
        Ok(Some(flow)) => flow,
        Ok(None) => {
            return problem(
                &ctx,
                StatusCode::NOT_FOUND,
                "No such flow",
                &format!("There is no flow {id}."),
            );
        }
        Err(err) => return failure(&ctx, &err),
    };
    let now = Utc::now();
    let title = format!("Flow {} · {}", flow.id, flow.name);
    let body = html! {
        (notice(&query_pairs(uri.query())))
        div #flow-live data-live {
            div.title-row {
                h1 { "Flow " (flow.id) " " span.job-name { (flow.name) } " " (flow_status(flow.status)) }
                div.actions { @if !flow.status.is_finished() {
                    (ctx.button(&format!("/flows/{}/cancel", flow.id), &[], "Cancel flow", "danger"))
                } }
            }
            p { "Created " (time(flow.created_at, now)) ". " (step_summary(&flow)) "." }
            div.graph { (svg::flow_graph(&flow, None, |id| ctx.href(&format!("/jobs/{id}")))) }
            table.steps {
                thead { tr { th { "step" } th.num { "job" } th { "name" } th { "status" } th { "depends on" } th.num { "attempts" } th { "finished" } } }
                tbody { @for step in &flow.steps { tr {
                    td { code { (step.name) } }
                    td.num { a href=(ctx.href(&format!("/jobs/{}", step.job.id))) { (step.job.id) } }
                    td { (step.job.name) }
                    td { (status(step.job.status)) }
                    td { @for (i, dep) in step.depends_on.iter().enumerate() { @if i > 0 { ", " } code { (dep) } } }
                    td.num { (step.job.attempts) "/" (step.job.max_attempts) }
                    td { (maybe_time(step.job.finished_at, now)) }
                } } }
            }
        }
    };
    shell(&ctx, &title, Nav::Flows, !flow.status.is_finished(), body).into_response()
}

/// `POST /flows/{id}/cancel`.
pub(crate) async fn cancel(State(ops): State<Ops>, ctx: Ctx, Path(id): Path<String>) -> Response {
    let id = match path_id::<FlowId>(&ctx, &id, "flow") {
        Ok(id) => id,
        Err(page) => return page,
    };
    match ops.cancel_flow(id).await {
        Ok(n) => ctx.after(&format!("/flows/{id}"), "cancel_flow", n > 0),
        Err(err) => failure(&ctx, &err),
    }
}

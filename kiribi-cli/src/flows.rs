//! `kiribi flows`: list flows, show one flow's steps.

use kiribi::{FlowFilter, FlowRecord, Kiribi};

use crate::cli::FlowsCommand;
use crate::error::{CliError, CliResult};
use crate::output::{self, between, maybe_duration, maybe_time, one_line, time};

/// Runs one `flows` subcommand.
pub(crate) async fn run(kiribi: &Kiribi, command: FlowsCommand, json: bool) -> CliResult {
    match command {
        FlowsCommand::List {
            status,
            limit,
            before_id,
        } => {
            let mut filter = FlowFilter::new().limit(limit);
            if let Some(status) = status {
                filter = filter.status(status);
            }
            if let Some(id) = before_id {
                filter = filter.before(id);
            }
            let flows = kiribi.flows(filter).await?;
            if json {
                return output::json(&flows);
            }
            list(&flows);
            if let Some(last) = flows.last().filter(|_| flows.len() == limit && limit > 0) {
                eprintln!(
                    "more may follow: add --before-id {} for the next page",
                    last.id
                );
            }
            Ok(())
        }
        FlowsCommand::Show { id } => {
            let flow = kiribi
                .flow(id)
                .await?
                .ok_or_else(|| CliError::NotFound(format!("no flow has id {id}")))?;
            if json {
                return output::json(&flow);
            }
            show(&flow);
            Ok(())
        }
    }
}

fn list(flows: &[FlowRecord]) {
    let mut table = output::table(
        &["id", "name", "status", "steps done", "created"],
        &["id", "steps done"],
    );
    for flow in flows {
        let done = flow
            .steps
            .iter()
            .filter(|step| step.job.status.is_finished())
            .count();
        table.add_row(vec![
            flow.id.to_string(),
            flow.name.clone(),
            flow.status.to_string(),
            format!("{done}/{}", flow.steps.len()),
            time(flow.created_at),
        ]);
    }
    output::print_table(&table, "no flows");
}

fn show(flow: &FlowRecord) {
    println!(
        "flow {} `{}`: {}, created {}",
        flow.id,
        flow.name,
        flow.status,
        time(flow.created_at)
    );
    let mut table = output::table(
        &[
            "step", "job", "name", "status", "after", "started", "finished", "took", "error",
        ],
        &["job", "took"],
    );
    for step in &flow.steps {
        let job = &step.job;
        table.add_row(vec![
            step.name.clone(),
            job.id.to_string(),
            job.name.clone(),
            job.status.to_string(),
            if step.depends_on.is_empty() {
                "-".to_owned()
            } else {
                step.depends_on.join(", ")
            },
            maybe_time(job.started_at),
            maybe_time(job.finished_at),
            maybe_duration(between(job.started_at, job.finished_at)),
            job.last_error
                .as_deref()
                .map_or_else(String::new, |e| one_line(e, 60)),
        ]);
    }
    output::print_table(&table, "no steps");
}

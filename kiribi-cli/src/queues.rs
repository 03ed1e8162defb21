//! `kiribi queues`: list queues, pause and resume one.

use kiribi::Kiribi;
use serde::Serialize;

use crate::cli::QueueAction;
use crate::error::{CliError, CliResult};
use crate::output::{self, maybe_duration, maybe_time};

/// What `queues pause|resume --json` prints.
#[derive(Debug, Serialize)]
struct QueueChange<'a> {
    queue: &'a str,
    paused: bool,
}

/// Lists the queues, or pauses or resumes one.
pub(crate) async fn run(kiribi: &Kiribi, action: Option<QueueAction>, json: bool) -> CliResult {
    let (name, pause) = match &action {
        None => return list(kiribi, json).await,
        Some(QueueAction::Pause { name }) => (name.as_str(), true),
        Some(QueueAction::Resume { name }) => (name.as_str(), false),
    };
    let changed = if pause {
        kiribi.pause_queue(name).await?
    } else {
        kiribi.resume_queue(name).await?
    };
    if !changed {
        let state = if pause {
            "paused already"
        } else {
            "not paused"
        };
        return Err(CliError::NotFound(format!("queue `{name}` is {state}")));
    }
    if json {
        return output::json(&QueueChange {
            queue: name,
            paused: pause,
        });
    }
    let done = if pause { "paused" } else { "resumed" };
    println!("queue `{name}` {done}");
    Ok(())
}

async fn list(kiribi: &Kiribi, json: bool) -> CliResult {
    let queues = kiribi.queues().await?;
    if json {
        return output::json(&queues);
    }
    print(&queues);
    Ok(())
}

/// The queues as a table (also under `stats`).
pub(crate) fn print(queues: &[kiribi::QueueInfo]) {
    let mut table = output::table(
        &["queue", "pending", "running", "oldest wait", "paused since"],
        &["pending", "running", "oldest wait"],
    );
    for queue in queues {
        table.add_row(vec![
            queue.name.clone(),
            queue.pending.to_string(),
            queue.running.to_string(),
            maybe_duration(queue.oldest_pending_age),
            if queue.paused {
                maybe_time(queue.paused_at)
            } else {
                String::new()
            },
        ]);
    }
    output::print_table(&table, "no queues have unfinished jobs or are paused");
}

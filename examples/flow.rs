//! A flow: jobs that wait for each other, on an embedded SQLite file.
//!
//! `cargo run --example flow` builds the flow of kiribi's DESIGN §10 in a temporary
//! SQLite file: `fetch` loads a user; `welcome` and `crm` both wait for it, run in
//! parallel and read its result with `ctx.output_of`; `report` waits for both and
//! reads theirs. A worker runs the flow until it finishes, then every step is
//! printed with its status, timing and result.

use std::time::{Duration, Instant};

use kiribi::{Flow, JobContext, Kiribi, job};
use serde::{Deserialize, Serialize};

/// What `fetch` returns and its dependents read.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct User {
    id: i64,
    email: String,
}

/// Loads the user (here: makes one up).
#[job]
async fn fetch_user(id: i64) -> Result<User, String> {
    tokio::time::sleep(Duration::from_millis(100)).await;
    Ok(User {
        id,
        email: format!("user{id}@example.com"),
    })
}

/// Sends the welcome mail to the address `fetch` found.
#[job]
async fn send_welcome(ctx: JobContext, user_id: i64) -> anyhow::Result<String> {
    let user: User = ctx.output_of("fetch").await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    Ok(format!("welcome mail to {} (user {user_id})", user.email))
}

/// Copies the user to the CRM, in parallel with the welcome mail.
#[job]
async fn sync_crm(ctx: JobContext, user_id: i64) -> anyhow::Result<u64> {
    let user: User = ctx.output_of("fetch").await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    Ok(u64::try_from(user.id * 1000 + user_id).unwrap_or(0))
}

/// Sums up, once both the welcome mail and the CRM sync are done.
#[job]
async fn report(ctx: JobContext) -> anyhow::Result<String> {
    let welcome: String = ctx.output_of("welcome").await?;
    let crm_id: u64 = ctx.output_of("crm").await?;
    Ok(format!("{welcome}; CRM record {crm_id}"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let path = std::env::temp_dir().join(format!("kiribi-flow-{}.db", std::process::id()));
    let url = format!("sqlite://{}", path.display());
    let kiribi = Kiribi::connect(&url).await?;
    println!("kiribi: jobs stored in {}\n", path.display());

    let worker = kiribi
        .worker()
        .concurrency(4)
        .poll_interval(Duration::from_millis(100))
        .start();
    let flow_id = Flow::new("onboard user 7")
        .step("fetch", FetchUser { id: 7 })
        .step_after("welcome", SendWelcome { user_id: 7 }, ["fetch"])
        .step_after("crm", SyncCrm { user_id: 7 }, ["fetch"])
        .step_after("report", Report {}, ["welcome", "crm"])
        .enqueue(&kiribi)
        .await?;

    let started = Instant::now();
    let flow = loop {
        let flow = kiribi
            .flow(flow_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("flow {flow_id} is gone"))?;
        if flow.status.is_finished() {
            break flow;
        }
        if started.elapsed() > Duration::from_secs(30) {
            anyhow::bail!("the flow did not finish within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    worker.shutdown().await?;

    println!("flow {} `{}`: {}\n", flow.id, flow.name, flow.status);
    let start = flow.created_at;
    println!(
        "{:<8} {:<10} {:<16} {:<8} {:<8} result / last error",
        "step", "status", "after", "start", "run time"
    );
    for step in &flow.steps {
        let job = &step.job;
        let offset = job.started_at.map_or("-".into(), |at| {
            format!("+{} ms", (at - start).num_milliseconds())
        });
        let run_time = match (job.started_at, job.finished_at) {
            (Some(from), Some(to)) => format!("{} ms", (to - from).num_milliseconds()),
            _ => "-".into(),
        };
        let outcome = match (&job.result, &job.last_error) {
            (Some(result), _) => result.to_string(),
            (None, Some(error)) => format!("error: {error}"),
            (None, None) => "-".into(),
        };
        let after = if step.depends_on.is_empty() {
            "-".to_owned()
        } else {
            step.depends_on.join(", ")
        };
        println!(
            "{:<8} {:<10} {:<16} {:<8} {:<8} {}",
            step.name, job.status, after, offset, run_time, outcome
        );
    }
    drop(kiribi);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    Ok(())
}

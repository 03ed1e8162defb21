//! A flow whose steps run in two worker processes, one of which is SIGKILLed
//! mid-flow: the other takes the lost step back once its lease expires, and the
//! flow still finishes, every step after its dependencies and none twice but the
//! one in flight at the kill.

use std::collections::HashMap;
use std::time::Duration;

use kiribi::{Flow, FlowStatus, JobId};
use kiribi_tests::jobs::FlowStep;
use kiribi_tests::process::{WorkerProcess, read_run_logs, read_spans};
use kiribi_tests::{TestDb, backend_tests, wait, wait_for_flow};

const WORKER: &str = env!("CARGO_BIN_EXE_kiribi-test-worker");

/// Steps of each fan: wide enough for both processes to take part.
const WIDE: usize = 6;

fn step(name: &str, millis: u64, marker: Option<String>) -> FlowStep {
    FlowStep {
        step: name.to_owned(),
        millis,
        marker,
    }
}

/// Whether `owner` is the lease owner of a worker in process `pid`
/// (`worker:<host>:<pid>:<random>`).
fn owned_by_process(owner: Option<&str>, pid: u32) -> bool {
    owner.is_some_and(|owner| owner.rsplit(':').nth(1) == Some(&pid.to_string()))
}

async fn a_flow_finishes_when_one_of_its_two_worker_processes_is_killed(db: TestDb) {
    let kiribi = db.connect().await;
    let logs = db.dir().join("runs");
    std::fs::create_dir(&logs).unwrap();
    let marker = db.dir().join("middle-started");
    let lease = Duration::from_millis(1000);
    let start = |_| {
        WorkerProcess::builder(WORKER, db.url())
            .concurrency(4)
            .lease(lease)
            .poll_interval(Duration::from_millis(20))
            .run_log(&logs)
            .start()
    };
    let mut workers = vec![start(0).await, start(1).await];

    // root → b0..b5 → middle (hangs on its first attempt) → d0..d5 → last.
    let fan = |prefix: &str| {
        (0..WIDE)
            .map(|n| format!("{prefix}{n}"))
            .collect::<Vec<_>>()
    };
    let (before, after) = (fan("b"), fan("d"));
    let mut flow = Flow::new("across processes").step("root", step("root", 20, None));
    for name in &before {
        flow = flow.step_after(name.as_str(), step(name, 50, None), ["root"]);
    }
    let hang = Some(marker.display().to_string());
    flow = flow.step_after(
        "middle",
        step("middle", 20, hang),
        before.iter().map(String::as_str),
    );
    for name in &after {
        flow = flow.step_after(name.as_str(), step(name, 50, None), ["middle"]);
    }
    let flow = flow.step_after(
        "last",
        step("last", 20, None),
        after.iter().map(String::as_str),
    );
    let id = flow.enqueue(&kiribi).await.unwrap();

    wait::until(
        "the middle step to start",
        Duration::from_secs(30),
        || async { marker.exists().then_some(()) },
    )
    .await;
    let record = kiribi.flow(id).await.unwrap().unwrap();
    let middle = &record.step("middle").unwrap().job;
    let owner = middle.lease_owner.as_deref();
    let at = workers
        .iter()
        .position(|worker| owned_by_process(owner, worker.pid()))
        .unwrap_or_else(|| panic!("the middle step runs in a test worker: {owner:?}"));
    let killed = workers.remove(at);
    let killed_pid = killed.pid();
    killed.kill().await;

    let flow = wait_for_flow(&kiribi, id, FlowStatus::Succeeded, Duration::from_secs(60)).await;
    for worker in workers {
        worker.terminate().await;
    }

    // Every step once, but the one in flight at the kill: twice, the first time in
    // the killed process.
    let names: HashMap<JobId, &str> = flow
        .steps
        .iter()
        .map(|step| (step.job.id, step.name.as_str()))
        .collect();
    let mut runs: HashMap<&str, Vec<(u32, u32)>> = HashMap::new();
    for (pid, job, attempt) in read_run_logs(&logs) {
        let name = names[&JobId::from_i64(job)];
        runs.entry(name).or_default().push((pid, attempt));
    }
    assert_eq!(runs.len(), flow.steps.len(), "every step ran: {runs:?}");
    for (name, runs) in &runs {
        if *name == "middle" {
            let mut runs = runs.clone();
            runs.sort_by_key(|&(_, attempt)| attempt);
            assert_eq!(runs.len(), 2, "{runs:?}");
            assert_eq!(
                runs[0],
                (killed_pid, 1),
                "its first attempt was in the killed process"
            );
            assert_ne!(runs[1].0, killed_pid);
        } else {
            assert_eq!(runs.len(), 1, "step `{name}` ran {runs:?}");
        }
    }

    // No step started before each of its dependencies had returned.
    let spans: HashMap<String, (i64, i64)> = read_spans(&logs)
        .into_iter()
        .map(|span| (span.key, (span.start_us, span.end_us)))
        .collect();
    assert_eq!(spans.len(), flow.steps.len(), "one finished run per step");
    for step in &flow.steps {
        let (started, _) = spans[&step.name];
        for dep in &step.depends_on {
            let (_, dep_ended) = spans[dep];
            assert!(
                started >= dep_ended,
                "step `{}` started before its dependency `{dep}` returned",
                step.name
            );
        }
        assert!(
            step.depends_on
                .iter()
                .all(|dep| { flow.step(dep).unwrap().job.finished_at <= step.job.started_at }),
            "step `{}` started (by the database's clock) before a dependency finished",
            step.name
        );
    }
}

backend_tests!(a_flow_finishes_when_one_of_its_two_worker_processes_is_killed);

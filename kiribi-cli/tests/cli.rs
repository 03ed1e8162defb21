//! The `kiribi` binary against real SQLite and PostgreSQL databases: every command,
//! its JSON, its tables, and its exit codes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use kiribi::{Flow, JobContext, JobFilter, JobId, JobStatus, Kiribi};
use kiribi_tests::{TestDb, backend_tests};
use serde_json::Value;

#[kiribi::job(max_attempts = 1)]
async fn send_mail(ctx: JobContext, to: String, fail: bool) -> Result<String, String> {
    ctx.log(format!("mailing {to}"));
    if fail {
        Err(format!("mailbox of {to} is full"))
    } else {
        Ok(format!("sent to {to}"))
    }
}

#[kiribi::job(queue = "media")]
async fn resize(width: u32) -> Result<(), String> {
    let _ = width;
    Ok(())
}

/// What one run of the binary did.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Fails the test unless the binary exited 0.
    fn ok(self) -> Self {
        assert_eq!(
            self.code, 0,
            "kiribi failed\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Fails the test unless the binary exited with `code`.
    fn code(self, code: i32) -> Self {
        assert_eq!(
            self.code, code,
            "expected exit code {code}\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }

    /// Standard output as the one JSON document `--json` promises.
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|err| panic!("not one JSON document ({err}):\n{}", self.stdout))
    }
}

/// Runs `kiribi <args>` with no terminal and no `DATABASE_URL` from the outside.
fn kiribi_bin(args: &[&str], env_url: Option<&str>) -> Run {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kiribi"));
    command
        .args(args)
        .env_remove("DATABASE_URL")
        .stdin(Stdio::null());
    if let Some(url) = env_url {
        command.env("DATABASE_URL", url);
    }
    let output = command.output().expect("the kiribi binary starts");
    Run {
        code: output
            .status
            .code()
            .expect("kiribi exited, not killed by a signal"),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs `kiribi --url <db> <args>`.
fn kiribi(db: &TestDb, args: &[&str]) -> Run {
    let mut all = vec!["--url", db.url()];
    all.extend_from_slice(args);
    kiribi_bin(&all, None)
}

/// The ids of a JSON array of job records.
fn ids(jobs: &Value) -> Vec<i64> {
    jobs.as_array()
        .expect("an array of jobs")
        .iter()
        .map(|job| job["id"].as_i64().expect("an id"))
        .collect()
}

async fn mail(kiribi: &Kiribi, to: &str) -> JobId {
    SendMail::enqueue(
        kiribi,
        SendMail {
            to: to.into(),
            fail: false,
        },
    )
    .await
    .unwrap()
}

/// Runs a mail job that fails, once: it ends `Failed`.
async fn failed_mail(kiribi: &Kiribi, to: &str) -> JobId {
    let _ = SendMail::run_now(
        kiribi,
        SendMail {
            to: to.into(),
            fail: true,
        },
    )
    .await;
    let failed = kiribi
        .jobs(JobFilter::new().status(JobStatus::Failed).text(to))
        .await
        .unwrap();
    failed[0].id
}

async fn status(kiribi: &Kiribi, id: JobId) -> Option<JobStatus> {
    kiribi.job(id).await.unwrap().map(|job| job.status)
}

backend_tests!(
    lists_jobs_by_every_filter,
    shows_a_job_with_its_attempts_logs_and_flow,
    retries_cancels_and_deletes_jobs_by_id,
    acts_by_filter_only_with_all_when_it_cannot_ask,
    prints_statistics_per_job,
    pauses_and_resumes_queues,
    lists_pauses_resumes_and_runs_schedules,
    shows_and_lists_flows,
    serves_the_dashboard_on_loopback,
    benchmarks_in_a_scratch_store,
);

async fn lists_jobs_by_every_filter(db: TestDb) {
    let k = db.connect().await;
    let ann = mail(&k, "ann@example.com").await;
    let bob = mail(&k, "bob@example.com").await;
    let failed = failed_mail(&k, "cyd@example.com").await;
    let media = Resize::enqueue(&k, Resize { width: 640 }).await.unwrap();
    let id = |id: JobId| id.as_i64();

    let all = kiribi(&db, &["--json", "jobs", "list"]).ok().json();
    assert_eq!(
        ids(&all),
        [id(media), id(failed), id(bob), id(ann)],
        "newest first"
    );
    let by = |args: &[&str]| {
        let mut all = vec!["--json", "jobs", "list"];
        all.extend_from_slice(args);
        ids(&kiribi(&db, &all).ok().json())
    };
    assert_eq!(by(&["--status", "failed"]), [id(failed)]);
    assert_eq!(by(&["--name", "resize"]), [id(media)]);
    assert_eq!(by(&["--queue", "media"]), [id(media)]);
    assert_eq!(by(&["--text", "bob@"]), [id(bob)]);
    assert_eq!(
        by(&["--text", "is full"]),
        [id(failed)],
        "text in the last error"
    );
    assert_eq!(by(&["--created-after", "1h"]).len(), 4);
    assert_eq!(by(&["--created-before", "1h"]), Vec::<i64>::new());
    assert_eq!(
        by(&[
            "--created-after",
            "2000-01-01T00:00:00Z",
            "--name",
            "send_mail"
        ])
        .len(),
        3
    );
    assert_eq!(by(&["--finished-after", "1h"]), [id(failed)]);
    assert_eq!(by(&["--finished-before", "1h"]), Vec::<i64>::new());
    assert_eq!(by(&["--limit", "2"]), [id(media), id(failed)]);
    let next = id(failed).to_string();
    assert_eq!(
        by(&["--limit", "2", "--before-id", &next]),
        [id(bob), id(ann)]
    );

    let page = kiribi(&db, &["jobs", "list", "--limit", "2"]).ok();
    let header = page.stdout.lines().next().unwrap();
    assert!(
        header.contains("ID") && header.contains("STATUS"),
        "{}",
        page.stdout
    );
    assert!(
        page.stdout.contains("resize") && page.stdout.contains("is full"),
        "{}",
        page.stdout
    );
    assert!(
        page.stderr.contains(&format!("--before-id {next}")),
        "{}",
        page.stderr
    );
    let none = kiribi(&db, &["jobs", "list", "--status", "running"]).ok();
    assert!(none.stdout.contains("no jobs match"), "{}", none.stdout);
}

async fn shows_a_job_with_its_attempts_logs_and_flow(db: TestDb) {
    let k = db.connect().await;
    let failed = failed_mail(&k, "ann@example.com").await;
    let detail = kiribi(&db, &["--json", "jobs", "show", &failed.to_string()])
        .ok()
        .json();
    assert_eq!(detail["job"]["status"], "failed");
    assert_eq!(detail["job"]["payload"]["to"], "ann@example.com");
    assert_eq!(
        detail["attempts"][0]["error"],
        "mailbox of ann@example.com is full"
    );
    assert_eq!(detail["logs"][0]["message"], "mailing ann@example.com");
    assert_eq!(detail["flow"], Value::Null);

    let text = kiribi(&db, &["jobs", "show", &failed.to_string()])
        .ok()
        .stdout;
    for part in [
        "send_mail",
        "failed",
        "1 of 1",
        "attempts:",
        "is full",
        "logs:",
        "mailing ann",
    ] {
        assert!(text.contains(part), "`{part}` missing:\n{text}");
    }

    let flow = Flow::new("welcome ann")
        .step(
            "first",
            SendMail {
                to: "a".into(),
                fail: false,
            },
        )
        .step_after(
            "second",
            SendMail {
                to: "b".into(),
                fail: false,
            },
            ["first"],
        )
        .enqueue(&k)
        .await
        .unwrap();
    let second = k
        .flow(flow)
        .await
        .unwrap()
        .unwrap()
        .step("second")
        .unwrap()
        .job
        .id;
    let detail = kiribi(&db, &["--json", "jobs", "show", &second.to_string()])
        .ok()
        .json();
    assert_eq!(detail["job"]["status"], "blocked");
    assert_eq!(detail["flow"]["id"], flow.as_i64());
    assert_eq!(detail["flow"]["step"], "second");
    assert_eq!(detail["flow"]["depends_on"], serde_json::json!(["first"]));
    let text = kiribi(&db, &["jobs", "show", &second.to_string()])
        .ok()
        .stdout;
    assert!(text.contains("step `second`, after first"), "{text}");

    let missing = kiribi(&db, &["jobs", "show", "987654"]).code(3);
    assert!(
        missing.stderr.contains("no job has id 987654"),
        "{}",
        missing.stderr
    );
}

async fn retries_cancels_and_deletes_jobs_by_id(db: TestDb) {
    let k = db.connect().await;
    let failed = failed_mail(&k, "ann@example.com").await;
    let other = failed_mail(&k, "bob@example.com").await;
    let pending = mail(&k, "cyd@example.com").await;
    let (failed_arg, other_arg) = (failed.to_string(), other.to_string());

    let retried = kiribi(&db, &["--json", "jobs", "retry", &failed_arg, &other_arg])
        .ok()
        .json();
    assert_eq!(
        (retried["matched"].as_u64(), retried["affected"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(
        status(&k, failed).await,
        Some(JobStatus::Retrying),
        "due now"
    );
    assert_eq!(status(&k, other).await, Some(JobStatus::Retrying));

    let cancelled = kiribi(&db, &["jobs", "cancel", &pending.to_string()]).ok();
    assert!(
        cancelled.stdout.contains("cancelled 1 of 1"),
        "{}",
        cancelled.stdout
    );
    assert_eq!(status(&k, pending).await, Some(JobStatus::Cancelled));

    // A finished job is not cancelled again, an unknown id is not found: both
    // exit 3, after the other ids were acted on.
    let mixed = kiribi(
        &db,
        &[
            "--json",
            "jobs",
            "cancel",
            &pending.to_string(),
            "987654",
            &failed_arg,
        ],
    )
    .code(3);
    let report = mixed.json();
    assert_eq!(
        (report["matched"].as_u64(), report["affected"].as_u64()),
        (Some(3), Some(1))
    );
    assert_eq!(
        report["skipped"],
        serde_json::json!([{ "id": pending.as_i64(), "status": "cancelled" }, { "id": 987654, "status": null }])
    );
    assert_eq!(status(&k, failed).await, Some(JobStatus::Cancelled));
    let text = kiribi(&db, &["jobs", "retry", "987654"]).code(3);
    assert!(
        text.stdout.contains("job 987654: not found"),
        "{}",
        text.stdout
    );

    kiribi(&db, &["jobs", "delete", &failed_arg, &other_arg]).ok();
    assert_eq!(status(&k, failed).await, None);
    assert_eq!(status(&k, other).await, None);
    kiribi(&db, &["jobs", "delete", &failed_arg]).code(3);
}

async fn acts_by_filter_only_with_all_when_it_cannot_ask(db: TestDb) {
    let k = db.connect().await;
    let mut failed = Vec::new();
    for to in ["a@x", "b@x", "c@x"] {
        failed.push(failed_mail(&k, to).await);
    }
    let pending = mail(&k, "d@x").await;
    let media = Resize::enqueue(&k, Resize { width: 1 }).await.unwrap();

    let refused = kiribi(&db, &["jobs", "retry", "--status", "failed"]).code(2);
    assert!(refused.stderr.contains("--all"), "{}", refused.stderr);
    assert_eq!(
        status(&k, failed[0]).await,
        Some(JobStatus::Failed),
        "nothing changed"
    );

    let retried = kiribi(
        &db,
        &["--json", "jobs", "retry", "--status", "failed", "--all"],
    )
    .ok()
    .json();
    assert_eq!(
        (retried["matched"].as_u64(), retried["affected"].as_u64()),
        (Some(3), Some(3))
    );
    for id in &failed {
        assert_eq!(status(&k, *id).await, Some(JobStatus::Retrying));
    }

    // The name selects the mail jobs only, the limit two of them (the newest).
    let cancelled = kiribi(
        &db,
        &[
            "jobs",
            "cancel",
            "--name",
            "send_mail",
            "--limit",
            "2",
            "--all",
        ],
    )
    .ok();
    assert!(
        cancelled.stdout.contains("cancelled 2 of 2 matching jobs"),
        "{}",
        cancelled.stdout
    );
    assert_eq!(status(&k, pending).await, Some(JobStatus::Cancelled));
    assert_eq!(status(&k, failed[2]).await, Some(JobStatus::Cancelled));
    assert_eq!(status(&k, failed[1]).await, Some(JobStatus::Retrying));
    assert_eq!(status(&k, media).await, Some(JobStatus::Pending));

    let deleted = kiribi(
        &db,
        &["--json", "jobs", "delete", "--status", "cancelled", "--all"],
    )
    .ok()
    .json();
    assert_eq!(deleted["affected"].as_u64(), Some(2));
    assert_eq!(k.count(JobFilter::new()).await.unwrap(), 3);
    let none = kiribi(
        &db,
        &["--json", "jobs", "delete", "--status", "failed", "--all"],
    )
    .ok()
    .json();
    assert_eq!(
        none["matched"].as_u64(),
        Some(0),
        "a filter that matches nothing exits 0"
    );

    // Ids and filters do not mix.
    kiribi(&db, &["jobs", "retry", "1", "--status", "failed"]).code(2);
}

async fn prints_statistics_per_job(db: TestDb) {
    let k = db.connect().await;
    for to in ["a@x", "b@x", "c@x"] {
        SendMail::run_now(
            &k,
            SendMail {
                to: to.into(),
                fail: false,
            },
        )
        .await
        .unwrap();
    }
    failed_mail(&k, "d@x").await;
    Resize::enqueue(&k, Resize { width: 1 }).await.unwrap();

    let stats = kiribi(&db, &["--json", "stats", "--window", "1h"])
        .ok()
        .json();
    let mail = stats["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|job| job["name"] == "send_mail")
        .expect("send_mail has statistics");
    assert_eq!(
        (mail["succeeded"].as_u64(), mail["failed"].as_u64()),
        (Some(3), Some(1))
    );
    assert_eq!(mail["failure_rate"].as_f64(), Some(0.25));
    assert!(!mail["run_time"]["p95"].is_null(), "{mail}");
    assert_eq!(stats["queues"][0]["name"], "media");

    let text = kiribi(&db, &["stats"]).ok().stdout;
    let row = text
        .lines()
        .find(|line| line.starts_with("send_mail"))
        .unwrap_or_else(|| panic!("{text}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[1..6], ["3", "1", "0", "0", "25.0%"], "{text}");
    assert!(text.contains("RUN P99") && text.contains("media"), "{text}");
    kiribi(&db, &["stats", "--window", "40d"]).code(2);
}

async fn pauses_and_resumes_queues(db: TestDb) {
    let k = db.connect().await;
    Resize::enqueue(&k, Resize { width: 1 }).await.unwrap();
    let paused = |k: Kiribi| async move {
        let queues = k.queues().await.unwrap();
        queues.iter().find(|q| q.name == "media").map(|q| q.paused)
    };

    let out = kiribi(&db, &["queues", "pause", "media"]).ok();
    assert!(
        out.stdout.contains("queue `media` paused"),
        "{}",
        out.stdout
    );
    assert_eq!(paused(k.clone()).await, Some(true));
    let again = kiribi(&db, &["queues", "pause", "media"]).code(3);
    assert!(again.stderr.contains("paused already"), "{}", again.stderr);

    let list = kiribi(&db, &["--json", "queues"]).ok().json();
    assert_eq!(
        (list[0]["name"].as_str(), list[0]["paused"].as_bool()),
        (Some("media"), Some(true))
    );
    assert_eq!(list[0]["pending"].as_u64(), Some(1));
    let table = kiribi(&db, &["queues"]).ok().stdout;
    assert!(
        table.contains("PAUSED SINCE") && table.contains("media"),
        "{table}"
    );

    let resumed = kiribi(&db, &["--json", "queues", "resume", "media"])
        .ok()
        .json();
    assert_eq!(
        resumed,
        serde_json::json!({ "queue": "media", "paused": false })
    );
    assert_eq!(paused(k.clone()).await, Some(false));
    let not_paused = kiribi(&db, &["queues", "resume", "media"]).code(3);
    assert!(
        not_paused.stderr.contains("not paused"),
        "{}",
        not_paused.stderr
    );
}

async fn lists_pauses_resumes_and_runs_schedules(db: TestDb) {
    let k = db.connect().await;
    k.schedule(
        "mail.nightly",
        "0 3 * * *",
        SendMail {
            to: "ops@x".into(),
            fail: false,
        },
    )
    .timezone("Asia/Tokyo")
    .await
    .unwrap();

    let list = kiribi(&db, &["--json", "schedules"]).ok().json();
    assert_eq!(list[0]["name"], "mail.nightly");
    assert_eq!(list[0]["paused"], false);
    let table = kiribi(&db, &["schedules"]).ok().stdout;
    assert!(
        table.contains("NEXT RUN") && table.contains("Asia/Tokyo") && table.contains("0 3 * * *"),
        "{table}"
    );

    kiribi(&db, &["schedules", "pause", "mail.nightly"]).ok();
    assert!(k.schedules().await.unwrap()[0].paused);
    kiribi(&db, &["schedules", "resume", "mail.nightly"]).ok();
    assert!(!k.schedules().await.unwrap()[0].paused);

    let run = kiribi(&db, &["--json", "schedules", "run", "mail.nightly"])
        .ok()
        .json();
    let job = JobId::from_i64(run["job"].as_i64().expect("the job's id"));
    assert_eq!(
        k.job(job).await.unwrap().unwrap().schedule.as_deref(),
        Some("mail.nightly")
    );

    for action in ["pause", "resume", "run"] {
        let missing = kiribi(&db, &["schedules", action, "nope"]).code(3);
        assert!(
            missing.stderr.contains("no schedule is named `nope`"),
            "{}",
            missing.stderr
        );
    }
}

async fn shows_and_lists_flows(db: TestDb) {
    let k = db.connect().await;
    let flow = Flow::new("onboard ann")
        .step(
            "fetch",
            SendMail {
                to: "a".into(),
                fail: false,
            },
        )
        .step_after(
            "welcome",
            SendMail {
                to: "b".into(),
                fail: false,
            },
            ["fetch"],
        )
        .step_after("report", Resize { width: 2 }, ["fetch", "welcome"])
        .enqueue(&k)
        .await
        .unwrap();
    let id = flow.to_string();

    let shown = kiribi(&db, &["--json", "flows", "show", &id]).ok().json();
    assert_eq!(
        (shown["name"].as_str(), shown["status"].as_str()),
        (Some("onboard ann"), Some("running"))
    );
    let steps: Vec<(&str, &str)> = shown["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|step| {
            (
                step["name"].as_str().unwrap(),
                step["job"]["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(
        steps.contains(&("fetch", "pending")) && steps.contains(&("report", "blocked")),
        "{steps:?}"
    );

    let text = kiribi(&db, &["flows", "show", &id]).ok().stdout;
    assert!(
        text.contains("flow") && text.contains("`onboard ann`: running"),
        "{text}"
    );
    let report = text
        .lines()
        .find(|line| line.starts_with("report"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        report.contains("blocked") && report.contains("fetch, welcome"),
        "{text}"
    );

    let list = kiribi(&db, &["--json", "flows", "list", "--status", "running"])
        .ok()
        .json();
    assert_eq!(list[0]["id"].as_i64(), Some(flow.as_i64()));
    let done = kiribi(&db, &["--json", "flows", "list", "--status", "succeeded"])
        .ok()
        .json();
    assert_eq!(done, serde_json::json!([]));
    let table = kiribi(&db, &["flows", "list"]).ok().stdout;
    assert!(
        table.contains("onboard ann") && table.contains("0/3"),
        "{table}"
    );

    let missing = kiribi(&db, &["flows", "show", "987654"]).code(3);
    assert!(
        missing.stderr.contains("no flow has id 987654"),
        "{}",
        missing.stderr
    );
}

#[test]
fn a_missing_url_names_both_flag_and_variable() {
    let run = kiribi_bin(&["jobs", "list"], None).code(2);
    assert!(
        run.stderr.contains("--url") && run.stderr.contains("DATABASE_URL"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_unknown_scheme_is_a_usage_error_naming_the_backends() {
    let run = kiribi_bin(&["--url", "redis://localhost", "queues"], None).code(2);
    assert!(
        run.stderr.contains("`redis:`") && run.stderr.contains("sqlite"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("hint: pass --url sqlite://"),
        "{}",
        run.stderr
    );
    kiribi_bin(&["--url", "jobs.db", "queues"], None).code(2);
}

#[test]
fn an_unreachable_database_is_a_runtime_error() {
    // Port 1: nothing listens there, so the connection is refused at once.
    let run = kiribi_bin(
        &["--url", "postgres://postgres@127.0.0.1:1/test", "queues"],
        None,
    )
    .code(1);
    assert!(run.stderr.contains("127.0.0.1:1"), "{}", run.stderr);
}

#[test]
fn bad_flags_and_values_are_usage_errors() {
    let url = "sqlite://unused.db";
    let status = kiribi_bin(&["--url", url, "jobs", "list", "--status", "done"], None).code(2);
    assert!(
        status
            .stderr
            .contains("blocked, pending, running, succeeded"),
        "{}",
        status.stderr
    );
    let when = kiribi_bin(
        &["--url", url, "jobs", "list", "--created-after", "yesterday"],
        None,
    )
    .code(2);
    assert!(
        when.stderr.contains("RFC 3339") && when.stderr.contains("1h"),
        "{}",
        when.stderr
    );
    kiribi_bin(&["--url", url, "jobs", "list", "--colour"], None).code(2);
    kiribi_bin(&["--url", url, "jobs", "show", "forty-two"], None).code(2);
    kiribi_bin(&["--url", url, "stats", "--window", "soon"], None).code(2);
    let help = kiribi_bin(&["--help"], None).ok();
    assert!(
        help.stdout.contains("Exit codes:") && help.stdout.contains("3  not found"),
        "{}",
        help.stdout
    );
}

#[test]
fn migrate_creates_what_the_other_commands_refuse_to() {
    let db = TestDb::sqlite();
    let refused = kiribi(&db, &["jobs", "list"]).code(1);
    assert!(
        refused.stderr.contains("kiribi migrate"),
        "{}",
        refused.stderr
    );
    let migrated = kiribi_bin(&["--json", "migrate"], Some(db.url()))
        .ok()
        .json();
    assert_eq!(
        migrated,
        serde_json::json!({ "migrated": true, "backend": "sqlite" })
    );
    let listed = kiribi_bin(&["--json", "jobs", "list"], Some(db.url()))
        .ok()
        .json();
    assert_eq!(listed, serde_json::json!([]));
}

/// A `kiribi serve` process, killed when dropped.
struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `kiribi --url <db> serve --addr 127.0.0.1:0 <args>` and waits (up to 20 s)
/// for the line that says where it listens.
fn serve(db: &TestDb, args: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kiribi"))
        .args(["--url", db.url(), "serve", "--addr", "127.0.0.1:0"])
        .args(args)
        .env_remove("KIRIBI_DASHBOARD_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("kiribi serve starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let (lines, line) = mpsc::channel();
    std::thread::spawn(move || {
        let mut first = String::new();
        let _ = BufReader::new(stdout).read_line(&mut first);
        let _ = lines.send(first);
    });
    let mut server = Server {
        child,
        addr: String::new(),
    };
    let first = line
        .recv_timeout(Duration::from_secs(20))
        .expect("serve says where it listens");
    server.addr = first
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no address in {first:?}"))
        .to_owned();
    server
}

/// The status code of `GET <path>` with these extra header lines.
fn get(server: &Server, path: &str, headers: &str) -> u16 {
    let mut stream = TcpStream::connect(&server.addr).expect("the dashboard accepts connections");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {}\r\n{headers}Connection: close\r\n\r\n",
        server.addr
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("a response");
    let status = response
        .split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("{response}"));
    status.parse().unwrap_or_else(|_| panic!("{response}"))
}

async fn serves_the_dashboard_on_loopback(db: TestDb) {
    let k = db.connect().await;
    failed_mail(&k, "ann@example.com").await;
    let open = serve(&db, &[]);
    assert_eq!(get(&open, "/", ""), 200);
    assert_eq!(get(&open, "/jobs?status=failed", ""), 200);
    drop(open);

    let guarded = serve(&db, &["--token", "s3cret", "--read-only"]);
    assert_eq!(get(&guarded, "/", ""), 401);
    assert_eq!(get(&guarded, "/", "Authorization: Bearer s3cret\r\n"), 200);
}

#[test]
fn serve_refuses_other_addresses_than_loopback_without_a_token() {
    // Refused before connecting: the database need not exist.
    let url = "sqlite:///nonexistent/jobs.db";
    let run = kiribi_bin(&["--url", url, "serve", "--addr", "0.0.0.0:8080"], None).code(2);
    assert!(
        run.stderr.contains("without a token") && run.stderr.contains("--token"),
        "{}",
        run.stderr
    );
    let run = kiribi_bin(
        &["--url", url, "serve", "--addr", "[::]:8080", "--token", " "],
        None,
    )
    .code(2);
    assert!(run.stderr.contains("--token is empty"), "{}", run.stderr);
}

async fn benchmarks_in_a_scratch_store(db: TestDb) {
    let k = db.connect().await;
    let own = mail(&k, "ann@example.com").await;
    let report = kiribi(
        &db,
        &["--json", "bench", "--jobs", "30", "--concurrency", "2"],
    )
    .ok()
    .json();
    let phases: Vec<(&str, u64)> = report["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|phase| {
            (
                phase["phase"].as_str().unwrap(),
                phase["jobs"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        phases,
        [("enqueue", 30), ("enqueue_many", 30), ("drain", 60)]
    );
    // The URL's own jobs are untouched, and no scratch schema is left behind.
    assert_eq!(
        ids(&kiribi(&db, &["--json", "jobs", "list"]).ok().json()),
        [own.as_i64()]
    );
    if let Some(pool) = k.pg_pool() {
        let left: i64 = kiribi::sqlx::query_scalar(
            "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'kiribi\\_bench\\_%'",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        assert_eq!(left, 0, "the benchmark's schema was dropped");
    }
    let text = kiribi(&db, &["bench", "--jobs", "5"]).ok().stdout;
    assert!(
        text.contains("JOBS/S") && text.contains("enqueue_many"),
        "{text}"
    );
}

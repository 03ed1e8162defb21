//! Starting and stopping real worker processes (`kiribi-test-worker`).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A worker process, killed if dropped while still running.
pub struct WorkerProcess {
    child: Child,
}

/// How to start a [`WorkerProcess`]: the settings the test worker takes as
/// arguments, its run log directory and where its stderr goes.
#[must_use = "a worker process starts with `start`"]
pub struct WorkerStart {
    binary: String,
    url: String,
    concurrency: usize,
    lease: Duration,
    poll_interval: Duration,
    prefetch: Option<usize>,
    run_log: Option<PathBuf>,
    stderr: Option<PathBuf>,
    log_level: Option<String>,
    cron: Option<String>,
    cancel_grace: Option<Duration>,
}

impl WorkerStart {
    /// How many jobs it runs at once (default 8).
    pub fn concurrency(mut self, concurrency: usize) -> Self {
        self.concurrency = concurrency;
        self
    }

    /// Its lease (default 30 s).
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// How often it polls when idle (default 50 ms).
    pub fn poll_interval(mut self, poll_interval: Duration) -> Self {
        self.poll_interval = poll_interval;
        self
    }

    /// The most jobs it claims ahead (default: kiribi's).
    pub fn prefetch(mut self, prefetch: usize) -> Self {
        self.prefetch = Some(prefetch);
        self
    }

    /// Where its jobs log their runs (see [`read_run_logs`]); default: nowhere.
    pub fn run_log(mut self, dir: &Path) -> Self {
        self.run_log = Some(dir.to_owned());
        self
    }

    /// Appends its stderr (its log lines among it) to `path` instead of the test's
    /// stderr.
    pub fn stderr_to(mut self, path: &Path) -> Self {
        self.stderr = Some(path.to_owned());
        self
    }

    /// Declares, before it starts its worker, the schedule `test.ticks` of the job
    /// `test.tick` with `cron` (default: no schedule).
    pub fn cron(mut self, cron: &str) -> Self {
        self.cron = Some(cron.to_owned());
        self
    }

    /// Its `cancel_grace` (default: kiribi's), passed in
    /// [`CANCEL_GRACE_ENV`](crate::jobs::CANCEL_GRACE_ENV).
    pub fn cancel_grace(mut self, grace: Duration) -> Self {
        self.cancel_grace = Some(grace);
        self
    }

    /// Its `RUST_LOG` (default: the test's, else warnings; see [`crate::log`]).
    pub fn log_level(mut self, level: &str) -> Self {
        self.log_level = Some(level.to_owned());
        self
    }

    /// Starts `binary <url> <concurrency> <lease-ms> <poll-ms> [<prefetch>]` and
    /// waits until it has connected.
    pub async fn start(self) -> WorkerProcess {
        let mut command = Command::new(&self.binary);
        command
            .arg(&self.url)
            .arg(self.concurrency.to_string())
            .arg(self.lease.as_millis().to_string())
            .arg(self.poll_interval.as_millis().to_string());
        if let Some(prefetch) = self.prefetch {
            command.arg(prefetch.to_string());
        }
        if let Some(dir) = &self.run_log {
            command.env(crate::jobs::RUN_LOG_DIR_ENV, dir);
        }
        if let Some(cron) = &self.cron {
            command.env(crate::jobs::CRON_ENV, cron);
        }
        if let Some(grace) = self.cancel_grace {
            command.env(crate::jobs::CANCEL_GRACE_ENV, grace.as_millis().to_string());
        }
        if let Some(level) = &self.log_level {
            command.env("RUST_LOG", level);
        }
        let stderr = match &self.stderr {
            Some(path) => Stdio::from(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .expect("open the worker's stderr file"),
            ),
            None => Stdio::inherit(),
        };
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .expect("start the worker process");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
            .await
            .expect("the worker process connects within 30 s")
            .expect("read the worker's stdout");
        assert_eq!(
            ready.as_deref(),
            Some("ready"),
            "worker process did not start"
        );
        WorkerProcess { child }
    }
}

impl WorkerProcess {
    /// Starts `binary <url> <concurrency> <lease-ms>` and waits until it has connected.
    pub async fn start(
        binary: &str,
        url: &str,
        concurrency: usize,
        lease: Duration,
        run_log: &Path,
    ) -> Self {
        Self::builder(binary, url)
            .concurrency(concurrency)
            .lease(lease)
            .run_log(run_log)
            .start()
            .await
    }

    /// A worker process of `binary` serving `url`, to configure and start.
    pub fn builder(binary: &str, url: &str) -> WorkerStart {
        WorkerStart {
            binary: binary.to_owned(),
            url: url.to_owned(),
            concurrency: 8,
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_millis(50),
            prefetch: None,
            run_log: None,
            stderr: None,
            log_level: None,
            cron: None,
            cancel_grace: None,
        }
    }

    /// The OS process id.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("the process is running")
    }

    /// Waits until the process ends by itself (or is killed by anyone else).
    pub async fn exited(&mut self) -> std::process::ExitStatus {
        self.child.wait().await.expect("wait for the worker")
    }

    /// SIGKILL: the process dies at once, holding whatever it had claimed.
    pub async fn kill(mut self) {
        self.child.kill().await.expect("SIGKILL the worker");
    }

    /// SIGTERM, then waits for a clean exit.
    pub async fn terminate(mut self) {
        let pid = self.pid();
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status()
            .await
            .expect("run kill");
        assert!(status.success(), "kill -TERM {pid} failed");
        let exit = tokio::time::timeout(Duration::from_secs(30), self.child.wait())
            .await
            .expect("the worker stops within 30 s of SIGTERM")
            .expect("wait for the worker");
        assert!(exit.success(), "worker {pid} exited with {exit}");
    }
}

/// Reads every run log line (`<job id> <attempt>`) written by test processes in `dir`,
/// with the pid of the process that wrote it.
pub fn read_run_logs(dir: &Path) -> Vec<(u32, i64, u32)> {
    let mut runs = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read the run log directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            // `spans/`: see `read_spans`.
            continue;
        }
        let pid: u32 = path
            .file_stem()
            .and_then(|s| s.to_str())
            .and_then(|s| s.parse().ok())
            .expect("run logs are named <pid>.log");
        let text = std::fs::read_to_string(&path).expect("read a run log");
        // A line being written right now has no newline yet: skip it.
        let complete = text.rfind('\n').map_or("", |end| &text[..end]);
        for line in complete.lines() {
            let (id, attempt) = line.split_once(' ').expect("`<id> <attempt>`");
            runs.push((
                pid,
                id.parse().expect("an id"),
                attempt.parse().expect("an attempt"),
            ));
        }
    }
    runs
}

/// One run of a job that logs its span (`kiribi_tests::jobs::PerAccount` and
/// others): its group key, and when it started and ended (Unix µs), read from every
/// process's `spans/<pid>.log` under the run log directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    /// The group the job counts in.
    pub key: String,
    /// When the job's code started (Unix µs).
    pub start_us: i64,
    /// When it returned (Unix µs).
    pub end_us: i64,
}

/// Every span logged under `dir` (see [`Span`]).
pub fn read_spans(dir: &Path) -> Vec<Span> {
    let dir = dir.join("spans");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut spans = Vec::new();
    for entry in entries {
        let text = std::fs::read_to_string(entry.expect("an entry").path()).expect("a span log");
        let complete = text.rfind('\n').map_or("", |end| &text[..end]);
        for line in complete.lines() {
            let mut parts = line.split(' ');
            let mut next = || parts.next().expect("`<key> <start> <end>`");
            let key = next().to_owned();
            let start_us = next().parse().expect("a start");
            let end_us = next().parse().expect("an end");
            spans.push(Span {
                key,
                start_us,
                end_us,
            });
        }
    }
    spans
}

/// The most spans of one key that overlapped at any moment, per key.
pub fn most_at_once(spans: &[Span]) -> std::collections::BTreeMap<String, usize> {
    let mut events: std::collections::BTreeMap<String, Vec<(i64, i32)>> = Default::default();
    for span in spans {
        let key = events.entry(span.key.clone()).or_default();
        key.push((span.start_us, 1));
        key.push((span.end_us, -1));
    }
    events
        .into_iter()
        .map(|(key, mut events)| {
            // An end before a start at the same instant: touching spans do not overlap.
            events.sort_unstable();
            let (mut now, mut most) = (0_i32, 0_i32);
            for (_, change) in events {
                now += change;
                most = most.max(now);
            }
            (key, usize::try_from(most).unwrap_or(0))
        })
        .collect()
}

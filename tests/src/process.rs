//! Starting and stopping real worker processes (`kiribi-test-worker`).

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A worker process, killed if dropped while still running.
pub struct WorkerProcess {
    child: Child,
}

impl WorkerProcess {
    /// Starts `binary <url> <concurrency> <lease-ms>` and waits until it has connected.
    pub async fn start(
        binary: &str,
        url: &str,
        concurrency: usize,
        lease: Duration,
        run_log: &std::path::Path,
    ) -> Self {
        let mut child = Command::new(binary)
            .arg(url)
            .arg(concurrency.to_string())
            .arg(lease.as_millis().to_string())
            .env(crate::jobs::RUN_LOG_DIR_ENV, run_log)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
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
        Self { child }
    }

    /// The OS process id.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("the process is running")
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
pub fn read_run_logs(dir: &std::path::Path) -> Vec<(u32, i64, u32)> {
    let mut runs = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read the run log directory") {
        let path = entry.expect("a directory entry").path();
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

//! Worker subprocesses: the hidden `worker` subcommand, and the parent's handle on one.
//!
//! Protocol, one line each: the worker prints `ready` once connected, waits for `go` on
//! stdin, starts its workers and prints `progress <executed>` every 20 ms (not when
//! started `quiet`, whose CPU is measured idle); on `stop` (or end of stdin) it shuts
//! down and prints `progress`, `seqs …`, `lat …`, `end`.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::contenders::{self, Target};
use crate::recorder::Recorder;

/// What a worker process reports when it stops.
#[derive(Debug, Default)]
pub(crate) struct Report {
    pub(crate) seqs: Vec<u64>,
    pub(crate) latencies_us: Vec<i64>,
}

/// Runs the `worker` subcommand:
/// `worker <contender> <target> <concurrency> <track|no-track> [quiet]`.
pub(crate) async fn worker_main(args: &[String]) -> Result<()> {
    let (name, target, concurrency, track, quiet) = match args {
        [name, target, concurrency, track] => (name, target, concurrency, track, false),
        [name, target, concurrency, track, quiet] if quiet == "quiet" => {
            (name, target, concurrency, track, true)
        }
        _ => anyhow::bail!(
            "usage: worker <contender> <target> <concurrency> <track|no-track> [quiet]"
        ),
    };
    let recorder = Arc::new(Recorder::new(track == "track"));
    let contender = contenders::connect(name, &Target::from_arg(target), recorder.clone()).await?;
    println!("ready");
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    match lines.next_line().await?.as_deref() {
        Some("go") => {}
        _ => return Ok(()),
    }
    let workers = contender.start_workers(concurrency.parse()?).await?;
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    loop {
        tokio::select! {
            line = lines.next_line() => match line?.as_deref() {
                Some("stop") | None => break,
                Some(_) => {}
            },
            _ = tick.tick(), if !quiet => println!("progress {}", recorder.executed()),
        }
    }
    workers.shutdown().await?;
    println!("progress {}", recorder.executed());
    println!("seqs {}", join(&recorder.take_seqs()));
    println!("lat {}", join(&recorder.take_latencies_us()));
    println!("end");
    drop(contender);
    Ok(())
}

fn join<T: ToString>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The parent's handle on one worker subprocess.
pub(crate) struct WorkerProc {
    child: Child,
    stdin: ChildStdin,
    progress: Arc<AtomicU64>,
    ready: Option<oneshot::Receiver<()>>,
    reader: JoinHandle<Result<Report>>,
}

impl WorkerProc {
    /// Starts `current_exe() worker …` connected to `target`.
    pub(crate) fn spawn(
        contender: &str,
        target: &Target,
        concurrency: usize,
        track: bool,
    ) -> Result<Self> {
        Self::spawn_with(contender, target, concurrency, track, false)
    }

    /// The same, without progress lines: it only reports when stopped, so that an
    /// idle worker's CPU is its own.
    pub(crate) fn spawn_quiet(
        contender: &str,
        target: &Target,
        concurrency: usize,
    ) -> Result<Self> {
        Self::spawn_with(contender, target, concurrency, false, true)
    }

    fn spawn_with(
        contender: &str,
        target: &Target,
        concurrency: usize,
        track: bool,
        quiet: bool,
    ) -> Result<Self> {
        let mut command = Command::new(std::env::current_exe()?);
        command
            .arg("worker")
            .arg(contender)
            .arg(target.to_arg())
            .arg(concurrency.to_string())
            .arg(if track { "track" } else { "no-track" });
        if quiet {
            command.arg("quiet");
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .context("spawning a worker process")?;
        let stdin = child.stdin.take().context("worker stdin")?;
        let stdout = child.stdout.take().context("worker stdout")?;
        let progress = Arc::new(AtomicU64::new(0));
        let (ready_tx, ready) = oneshot::channel();
        let reader_progress = progress.clone();
        let reader = tokio::spawn(async move {
            let mut ready_tx = Some(ready_tx);
            let mut report = Report::default();
            let mut lines = BufReader::new(stdout).lines();
            while let Some(line) = lines.next_line().await? {
                let (word, rest) = line.split_once(' ').unwrap_or((&line, ""));
                match word {
                    "ready" => {
                        if let Some(tx) = ready_tx.take() {
                            let _ = tx.send(());
                        }
                    }
                    "progress" => reader_progress.store(rest.parse()?, Ordering::Relaxed),
                    "seqs" => report.seqs = parse_all(rest)?,
                    "lat" => report.latencies_us = parse_all(rest)?,
                    "end" => return Ok(report),
                    _ => {} // a peer library printing to stdout
                }
            }
            anyhow::bail!("a worker process exited before reporting")
        });
        Ok(Self {
            child,
            stdin,
            progress,
            ready: Some(ready),
            reader,
        })
    }

    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Waits until the worker has connected.
    pub(crate) async fn ready(&mut self) -> Result<()> {
        if let Some(ready) = self.ready.take() {
            tokio::time::timeout(Duration::from_secs(120), ready)
                .await
                .context("a worker process did not get ready in 120 s")?
                .context("a worker process exited before it was ready")?;
        }
        Ok(())
    }

    pub(crate) async fn go(&mut self) -> Result<()> {
        self.stdin.write_all(b"go\n").await?;
        self.stdin.flush().await?;
        Ok(())
    }

    /// Jobs executed so far, as last reported.
    pub(crate) fn executed(&self) -> u64 {
        self.progress.load(Ordering::Relaxed)
    }

    /// Stops the worker and returns its report.
    pub(crate) async fn stop(mut self) -> Result<Report> {
        self.stdin.write_all(b"stop\n").await?;
        self.stdin.flush().await?;
        let report = tokio::time::timeout(Duration::from_secs(120), self.reader)
            .await
            .context("a worker process did not stop in 120 s")???;
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
        Ok(report)
    }
}

fn parse_all<T: std::str::FromStr>(s: &str) -> Result<Vec<T>>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    Ok(s.split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()?)
}

/// Peak resident set size (`VmHWM`) of a process, in MiB.
pub(crate) fn peak_rss_mib(pid: u32) -> Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .context("no VmHWM in /proc/<pid>/status")?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()?;
    #[allow(clippy::cast_precision_loss, reason = "KiB counts are far below 2^52")]
    Ok(kib as f64 / 1024.0)
}

/// CPU time a process has used so far (user + system, every thread), in clock ticks,
/// from fields 14 and 15 of `/proc/<pid>/stat`.
pub(crate) fn cpu_ticks(pid: u32) -> Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    parse_cpu_ticks(&stat)
}

/// The fields after the command name, which is in parentheses and may hold spaces.
fn parse_cpu_ticks(stat: &str) -> Result<u64> {
    let (_, rest) = stat
        .rsplit_once(')')
        .context("no `)` in /proc/<pid>/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state): utime is field 14, stime field 15.
    let field = |i: usize| -> Result<u64> {
        Ok(fields
            .get(i - 3)
            .with_context(|| format!("no field {i} in /proc/<pid>/stat"))?
            .parse()?)
    };
    Ok(field(14)? + field(15)?)
}

/// Clock ticks per second, the unit of [`cpu_ticks`] (`sysconf(_SC_CLK_TCK)`).
pub(crate) fn ticks_per_second() -> u64 {
    rustix::param::clock_ticks_per_second()
}

#[cfg(test)]
mod tests {
    use super::parse_cpu_ticks;

    #[test]
    fn cpu_ticks_are_utime_plus_stime() {
        let stat = "4242 (kiribi bench) S 1 2 3 0 -1 4194304 500 0 0 0 17 5 0 0 20 0 4 0 99";
        assert_eq!(parse_cpu_ticks(stat).unwrap(), 22);
    }

    #[test]
    fn own_cpu_ticks_are_readable() {
        assert!(super::cpu_ticks(std::process::id()).is_ok());
        assert!(super::ticks_per_second() > 0);
    }
}

//! What waiting costs: W7 (from a delayed job's or a retry's due time to its start)
//! and the CPU an idle worker uses.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::Config;
use crate::contenders::{self, RETRY_DELAY, Target};
use crate::recorder::{Recorder, Start};
use crate::subprocess::{WorkerProc, cpu_ticks, ticks_per_second};
use crate::workloads::{self, CONCURRENCY, Measure, percentile_ms};

/// W7's jobs, and how far apart their due times are.
fn timed_jobs(config: &Config) -> (u64, Duration) {
    if config.quick {
        (6, Duration::from_millis(5))
    } else {
        (60, Duration::from_millis(37))
    }
}

/// W7: an idle worker in this process; `n` timed jobs enqueued at once, job `i` due
/// 100 ms + `i` × 37 ms later, so that due times fall on every phase of a poll
/// interval and nothing else happens in between (an enqueue, which wakes a worker,
/// would find jobs that became due meanwhile and hide the wait). Even `i`: a delayed
/// job, measured from its due time to its start. Odd `i`: its first attempt fails and
/// the retry, due [`RETRY_DELAY`] later, is measured from its due time to its start.
/// Due times are the stored `run_at`; starts are taken first thing in the job body.
pub(crate) async fn due_to_start(
    config: &Config,
    name: &str,
    target: &Target,
) -> Result<(Measure, Measure)> {
    let (n, spacing) = timed_jobs(config);
    let recorder = Arc::new(Recorder::new(false));
    let contender = contenders::connect(name, target, recorder.clone()).await?;
    let workers = contender.start_workers(CONCURRENCY).await?;
    // Let the worker settle into idleness.
    tokio::time::sleep(Duration::from_millis(if config.quick { 100 } else { 300 })).await;
    for i in 0..n {
        let delay = Duration::from_millis(100) + spacing * u32::try_from(i)?;
        if !contender.enqueue_timed(i, delay, i % 2 == 1).await? {
            workers.shutdown().await?;
            let na = Measure::NotApplicable("no delayed jobs or no retry delay to set");
            return Ok((na.clone(), na));
        }
    }
    // One attempt per job, two for the odd ones.
    let attempts = n + n / 2;
    let deadline = Instant::now() + Duration::from_secs(60);
    while recorder.started() < attempts {
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {} of {attempts} attempts started",
            recorder.started()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    workloads::wait_finished(contender.as_ref(), deadline).await?;
    workers.shutdown().await?;
    let due: HashMap<u64, i64> = contender.timed_due_us().await?.into_iter().collect();
    let (delayed, retried) = lateness_us(&recorder.take_starts(), &due)?;
    Ok((percentiles(delayed)?, percentiles(retried)?))
}

/// Start − due, in µs: of each even `seq`'s first attempt and each odd one's second.
fn lateness_us(starts: &[Start], due: &HashMap<u64, i64>) -> Result<(Vec<i64>, Vec<i64>)> {
    let first_start: HashMap<u64, i64> = starts
        .iter()
        .filter(|s| s.attempt == 1)
        .map(|s| (s.seq, s.at_us))
        .collect();
    let mut delayed = Vec::new();
    let mut retried = Vec::new();
    for start in starts {
        let due_us = *due
            .get(&start.seq)
            .with_context(|| format!("no run_at for timed job {}", start.seq))?;
        match (start.seq % 2, start.attempt) {
            (0, 1) => delayed.push(start.at_us - due_us),
            (1, 2) => {
                let first = first_start.get(&start.seq).with_context(|| {
                    format!("timed job {} retried without a first attempt", start.seq)
                })?;
                // Guards against a backend whose run_at stops meaning "the retry's due
                // time" once the job succeeded: the measure would be meaningless.
                let earliest = first + i64::try_from(RETRY_DELAY.as_micros())?;
                anyhow::ensure!(
                    due_us >= earliest - 2_000,
                    "timed job {}: run_at is {} µs before its first attempt + {RETRY_DELAY:?}; \
                     it is not the retry's due time",
                    start.seq,
                    earliest - due_us
                );
                retried.push(start.at_us - due_us);
            }
            _ => {}
        }
    }
    Ok((delayed, retried))
}

fn percentiles(mut late_us: Vec<i64>) -> Result<Measure> {
    anyhow::ensure!(!late_us.is_empty(), "no timed job started");
    late_us.sort_unstable();
    Ok(Measure::Latency {
        p50_ms: percentile_ms(&late_us, 50),
        tail_ms: percentile_ms(&late_us, 95),
    })
}

/// The idle worker's CPU: a worker process (concurrency 8, as in W5) started on an
/// empty queue, left to settle, then its user + system time over 10 s of wall time,
/// in % of one core. Ticks are 10 ms, so over 10 s the resolution is 0.1 %.
pub(crate) async fn idle_cpu(config: &Config, name: &str, target: &Target) -> Result<Measure> {
    // Creates the schema, as in W5, so that the worker only connects.
    let _contender = workloads::connect(name, target, false).await?;
    let mut proc = WorkerProc::spawn_quiet(name, target, CONCURRENCY)?;
    proc.ready().await?;
    proc.go().await?;
    let (settle, window) = if config.quick {
        (Duration::from_millis(100), Duration::from_millis(300))
    } else {
        (Duration::from_secs(1), Duration::from_secs(10))
    };
    tokio::time::sleep(settle).await;
    let pid = proc.pid().context("the worker process has exited")?;
    let (start, ticks_before) = (Instant::now(), cpu_ticks(pid)?);
    tokio::time::sleep(window).await;
    let (wall, ticks) = (start.elapsed(), cpu_ticks(pid)? - ticks_before);
    proc.stop().await?;
    #[allow(clippy::cast_precision_loss, reason = "tick counts are far below 2^52")]
    let cpu_s = ticks as f64 / ticks_per_second() as f64;
    Ok(Measure::Percent(100.0 * cpu_s / wall.as_secs_f64()))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::lateness_us;
    use crate::recorder::Start;

    fn start(seq: u64, attempt: u32, at_us: i64) -> Start {
        Start {
            seq,
            attempt,
            at_us,
        }
    }

    #[test]
    fn lateness_counts_delayed_first_attempts_and_second_attempts_of_retries() {
        let starts = [
            start(0, 1, 1_100_500),
            start(1, 1, 1_000_000),
            start(1, 2, 1_150_000),
        ];
        let due = HashMap::from([(0, 1_100_000), (1, 1_100_000)]);
        let (delayed, retried) = lateness_us(&starts, &due).unwrap();
        assert_eq!(delayed, [500]);
        assert_eq!(retried, [50_000]);
    }

    #[test]
    fn a_run_at_before_the_failure_is_not_taken_for_the_retry_due_time() {
        let starts = [start(1, 1, 1_000_000), start(1, 2, 1_150_000)];
        let due = HashMap::from([(1, 900_000)]);
        assert!(lateness_us(&starts, &due).is_err());
    }
}

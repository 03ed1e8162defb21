//! The workloads W1–W6 and RSS: each runs one cell (one contender, one run) on a fresh
//! database and returns what it measured. W7 and the idle worker's CPU are in
//! `waiting.rs`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::Config;
use crate::contenders::{self, Contender, Target};
use crate::databases;
use crate::recorder::{Payload, Recorder, check_exactly_once, now_us};
use crate::subprocess::{WorkerProc, peak_rss_mib};
use crate::waiting;

/// Every workload, in table order: name and column header.
pub(crate) const ALL: &[(&str, &str)] = &[
    ("w1", "W1 enqueue (jobs/s)"),
    ("w2", "W2 enqueue_many ×1000 (jobs/s)"),
    ("w3", "W3 drain, c=8 (jobs/s)"),
    ("w4", "W4 drain, 4 procs (jobs/s)"),
    ("w5", "W5 latency, other process, p50 / p99 (ms)"),
    ("w5-local", "W5 latency, same process, p50 / p99 (ms)"),
    (
        "w7-delay",
        "W7 delayed enqueue, run_at → start, same process, p50 / p95 (ms)",
    ),
    (
        "w7-retry",
        "W7 retry after 100 ms, run_at → start, same process, p50 / p95 (ms)",
    ),
    ("idle-cpu", "idle worker, other process (% of a core)"),
    ("w8-unique", "W8 unique enqueue, 50 % duplicates (jobs/s)"),
    (
        "w9-keys",
        "W9 drain, 100 keys × concurrency 1, c=8 (jobs/s)",
    ),
    ("w9-most", "W9 most runs of one key at once"),
    ("w3-logs", "W3 drain, 3 log lines per job, c=8 (jobs/s)"),
    (
        "w3-search",
        "W3 drain with the search indexes built, c=8 (jobs/s)",
    ),
    (
        "w10-flow",
        "W10 flow of 1,000 steps on 3 levels, enqueue to last step done, c=8 (steps/s)",
    ),
    (
        "s1-stats",
        "S1 stats over 1 h of 1M finished jobs, p50 / p95 (ms)",
    ),
    ("s1-count", "S1 count of 1M succeeded jobs, p50 / p95 (ms)"),
    (
        "s1-count-recent",
        "S1 count of the jobs finished in the last 10 min of 1M, p50 / p95 (ms)",
    ),
    (
        "s1-text",
        "S1 jobs by payload text among 1M, p50 / p95 (ms)",
    ),
    ("s1-rollup", "S1 roll-up of 1M finished jobs (jobs/s)"),
    (
        "s1-search-index",
        "S1 building the search indexes over 1M jobs (jobs/s)",
    ),
    (
        "s1-text-indexed",
        "S1 jobs by payload text among 1M, search indexes built, p50 / p95 (ms)",
    ),
    (
        "s1-count-created",
        "S1 count of the jobs created in the last 10 min of 1M, indexed, p50 / p95 (ms)",
    ),
    ("w6-small", "W6 drain with 10k finished (jobs/s)"),
    ("w6-large", "W6 drain with 1M finished (jobs/s)"),
    ("dead", "PG dead tuples after W3"),
    ("rss", "worker peak RSS, 1M pending (MiB)"),
];

/// What one cell measured.
#[derive(Debug, Clone)]
pub(crate) enum Measure {
    Rate(f64),
    /// The median and a tail percentile: p99 for W5, p95 for W7 (the header says).
    Latency {
        p50_ms: f64,
        tail_ms: f64,
    },
    Count(u64),
    Mib(f64),
    /// CPU time over wall time, in % of one core.
    Percent(f64),
    /// The contender's API cannot express the workload; the footnote says why.
    NotApplicable(&'static str),
}

/// The concurrency of every worker.
pub(crate) const CONCURRENCY: usize = 8;
const WORKER_PROCESSES: usize = 4;

/// The workloads that run on their own, the columns each fills (`w3` also `dead`,
/// `w7` both of its columns), and whether each is heavy or slow enough to run once
/// however many runs were asked for.
pub(crate) const RUNNABLE: &[(&str, &[&str], bool)] = &[
    ("w1", &["w1"], false),
    ("w2", &["w2"], false),
    ("w3", &["w3", "dead"], false),
    ("w4", &["w4"], false),
    ("w5", &["w5"], false),
    ("w5-local", &["w5-local"], false),
    ("w7", &["w7-delay", "w7-retry"], false),
    ("idle-cpu", &["idle-cpu"], true),
    ("w8-unique", &["w8-unique"], false),
    ("w9", &["w9-keys", "w9-most"], false),
    ("w3-logs", &["w3-logs"], false),
    ("w3-search", &["w3-search"], false),
    ("w10-flow", &["w10-flow"], false),
    ("s1", S1_COLUMNS, true),
    ("w6-small", &["w6-small"], false),
    ("w6-large", &["w6-large"], true),
    ("rss", &["rss"], true),
];

/// Runs `workload` for `contender` once, on a fresh database; `w3` also yields `dead`.
pub(crate) async fn run(
    config: &Config,
    workload: &str,
    contender: &str,
) -> Result<Vec<(&'static str, Measure)>> {
    let fresh = databases::fresh(contender, &config.pg_url).await?;
    let result = run_on(config, workload, contender, &fresh.target).await;
    fresh.cleanup().await;
    result.with_context(|| format!("{workload} for {contender}"))
}

async fn run_on(
    config: &Config,
    workload: &str,
    name: &str,
    target: &Target,
) -> Result<Vec<(&'static str, Measure)>> {
    let n = config.jobs;
    let one = |key, m| Ok(vec![(key, m)]);
    match workload {
        "w1" => one("w1", enqueue_one(name, target, n).await?),
        "w2" => one("w2", enqueue_batches(name, target, n).await?),
        "w3" | "dead" => {
            let (rate, dead) = drain(config, name, target, 0).await?;
            Ok(vec![("w3", rate), ("dead", dead)])
        }
        "w4" => one("w4", drain_processes(name, target, n).await?),
        "w5" => one("w5", latency(config, name, target, false).await?),
        "w5-local" => one("w5-local", latency(config, name, target, true).await?),
        "w7" | "w7-delay" | "w7-retry" => {
            let (delay, retry) = waiting::due_to_start(config, name, target).await?;
            Ok(vec![("w7-delay", delay), ("w7-retry", retry)])
        }
        "idle-cpu" => one("idle-cpu", waiting::idle_cpu(config, name, target).await?),
        "w8-unique" => one("w8-unique", enqueue_unique(name, target, n).await?),
        "w9" | "w9-keys" | "w9-most" => {
            let (rate, most) = drain_per_key(name, target, n).await?;
            Ok(vec![("w9-keys", rate), ("w9-most", most)])
        }
        "w3-logs" => one("w3-logs", drain_logging(name, target, n).await?),
        "w3-search" => one("w3-search", drain_searchable(name, target, n).await?),
        "w10-flow" => one("w10-flow", run_flow(name, target).await?),
        "s1" | "s1-stats" | "s1-count" | "s1-count-recent" | "s1-text" | "s1-rollup"
        | "s1-search-index" | "s1-text-indexed" | "s1-count-created" => {
            stats(config, name, target).await
        }
        "w6-small" => {
            let finished = config.finished_small();
            one("w6-small", drain(config, name, target, finished).await?.0)
        }
        "w6-large" => {
            let finished = config.finished_large();
            one("w6-large", drain(config, name, target, finished).await?.0)
        }
        "rss" => one("rss", peak_rss(config, name, target).await?),
        other => {
            let names: Vec<_> = ALL.iter().map(|(n, _)| *n).collect();
            anyhow::bail!("unknown workload `{other}`; expected one of {names:?}")
        }
    }
}

#[allow(clippy::cast_precision_loss, reason = "job counts are far below 2^52")]
fn rate(n: u64, elapsed: Duration) -> Measure {
    Measure::Rate(n as f64 / elapsed.as_secs_f64())
}

pub(crate) async fn connect(
    name: &str,
    target: &Target,
    track: bool,
) -> Result<Box<dyn Contender>> {
    contenders::connect(name, target, Arc::new(Recorder::new(track))).await
}

/// W1: `n` jobs, one call each, one after another.
async fn enqueue_one(name: &str, target: &Target, n: u64) -> Result<Measure> {
    let contender = connect(name, target, false).await?;
    let start = Instant::now();
    for seq in 0..n {
        contender.enqueue_one(Payload::new(seq)).await?;
    }
    Ok(rate(n, start.elapsed()))
}

/// W8: `n` one-by-one enqueues of a unique job over `n / 2` keys: the first half
/// inserts, the second half repeats every key and inserts nothing.
async fn enqueue_unique(name: &str, target: &Target, n: u64) -> Result<Measure> {
    let contender = connect(name, target, false).await?;
    let keys = (n / 2).max(1);
    let mut duplicates = 0;
    let start = Instant::now();
    for seq in 0..n {
        match contender.enqueue_unique(seq % keys).await? {
            Some(duplicate) => duplicates += u64::from(duplicate),
            None => return Ok(Measure::NotApplicable("no unique jobs")),
        }
    }
    let elapsed = start.elapsed();
    anyhow::ensure!(
        duplicates == n - keys,
        "{duplicates} of {n} enqueues were duplicates, where {} repeat a key",
        n - keys
    );
    Ok(rate(n, elapsed))
}

/// W9: `n` ready jobs over 100 keys with `concurrency = 1` per key, drained by one
/// worker (concurrency 8) in this process; also the most runs of one key seen at
/// once, which must be 1.
async fn drain_per_key(name: &str, target: &Target, n: u64) -> Result<(Measure, Measure)> {
    const KEYS: u64 = 100;
    let recorder = Arc::new(Recorder::new(false));
    let contender = contenders::connect(name, target, recorder.clone()).await?;
    if !contender.enqueue_per_key(n, KEYS).await? {
        let na = Measure::NotApplicable("no concurrency keys");
        return Ok((na.clone(), na));
    }
    let elapsed = time_drain(contender.as_ref(), &recorder, n).await?;
    let most = recorder.most_per_key();
    anyhow::ensure!(most == 1, "{most} jobs of one key ran at once");
    Ok((rate(n, elapsed), Measure::Count(u64::from(most))))
}

/// W3 with logs: `n` ready jobs that each write 3 log lines, drained by one worker
/// (concurrency 8) in this process, timed as W3 is; the cost of per-job logs to
/// the drain, which W3 itself (jobs that log nothing) must not pay.
async fn drain_logging(name: &str, target: &Target, n: u64) -> Result<Measure> {
    let recorder = Arc::new(Recorder::new(false));
    let contender = contenders::connect(name, target, recorder.clone()).await?;
    if !contender.enqueue_logging(n).await? {
        return Ok(Measure::NotApplicable("no per-job logs"));
    }
    let elapsed = time_drain(contender.as_ref(), &recorder, n).await?;
    Ok(rate(n, elapsed))
}

/// W3 with the search indexes built before the jobs are enqueued: what the opt-in
/// text and creation-time indexes cost the drain.
async fn drain_searchable(name: &str, target: &Target, n: u64) -> Result<Measure> {
    let recorder = Arc::new(Recorder::new(false));
    let contender = contenders::connect(name, target, recorder.clone()).await?;
    if !contender.create_search_indexes().await? {
        return Ok(Measure::NotApplicable("no search indexes"));
    }
    enqueue_all(contender.as_ref(), n).await?;
    let elapsed = time_drain(contender.as_ref(), &recorder, n).await?;
    Ok(rate(n, elapsed))
}

/// W10's flow size, whatever `--jobs` says (issue 12's cell).
const FLOW_STEPS: u64 = 1000;

/// W10: a worker (concurrency 8) runs; one flow of [`FLOW_STEPS`] steps is enqueued,
/// timed from the enqueue until its last step ran and every step is finished.
async fn run_flow(name: &str, target: &Target) -> Result<Measure> {
    let recorder = Arc::new(Recorder::new(false));
    let contender = contenders::connect(name, target, recorder.clone()).await?;
    let deadline = deadline_for(FLOW_STEPS);
    let workers = contender.start_workers(CONCURRENCY).await?;
    let start = Instant::now();
    if !contender.enqueue_flow(FLOW_STEPS).await? {
        workers.shutdown().await?;
        return Ok(Measure::NotApplicable("no flows"));
    }
    while recorder.executed() < FLOW_STEPS {
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {} of {FLOW_STEPS} steps ran",
            recorder.executed()
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    wait_finished(contender.as_ref(), deadline).await?;
    let elapsed = start.elapsed();
    workers.shutdown().await?;
    Ok(rate(FLOW_STEPS, elapsed))
}

/// The columns S1 fills.
const S1_COLUMNS: &[&str] = &[
    "s1-stats",
    "s1-count",
    "s1-count-recent",
    "s1-text",
    "s1-rollup",
    "s1-search-index",
    "s1-text-indexed",
    "s1-count-created",
];

/// S1: statistics over 1M finished jobs (`config.finished_large()`), spread over
/// the last hour.
async fn stats(
    config: &Config,
    name: &str,
    target: &Target,
) -> Result<Vec<(&'static str, Measure)>> {
    let contender = connect(name, target, false).await?;
    let Some(timings) = contender.stats_timings(config.finished_large()).await? else {
        let none = || Measure::NotApplicable("no statistics");
        return Ok(S1_COLUMNS.iter().map(|&key| (key, none())).collect());
    };
    let latency = |mut calls: Vec<Duration>| {
        calls.sort();
        let at = |q: f64| {
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                clippy::cast_precision_loss,
                reason = "a rank among a few dozen calls"
            )]
            let rank = (q * (calls.len() - 1) as f64) as usize;
            calls[rank].as_secs_f64() * 1000.0
        };
        Measure::Latency {
            p50_ms: at(0.5),
            tail_ms: at(0.95),
        }
    };
    Ok(vec![
        ("s1-stats", latency(timings.stats)),
        ("s1-count", latency(timings.count)),
        ("s1-count-recent", latency(timings.count_recent)),
        ("s1-text", latency(timings.text)),
        ("s1-rollup", rate(config.finished_large(), timings.roll_up)),
        (
            "s1-search-index",
            rate(config.finished_large(), timings.search_index),
        ),
        ("s1-text-indexed", latency(timings.text_indexed)),
        ("s1-count-created", latency(timings.count_created)),
    ])
}

/// Starts the contender's workers (concurrency 8) on `n` jobs enqueued already and
/// returns how long they took until every job ran and is finished in the database.
async fn time_drain(contender: &dyn Contender, recorder: &Recorder, n: u64) -> Result<Duration> {
    let deadline = deadline_for(n);
    let start = Instant::now();
    let workers = contender.start_workers(CONCURRENCY).await?;
    while recorder.executed() < n {
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {} of {n} jobs ran",
            recorder.executed()
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    wait_finished(contender, deadline).await?;
    let elapsed = start.elapsed();
    workers.shutdown().await?;
    Ok(elapsed)
}

/// W2: `n` jobs in batches of 1,000 through the batch API.
async fn enqueue_batches(name: &str, target: &Target, n: u64) -> Result<Measure> {
    let contender = connect(name, target, false).await?;
    let start = Instant::now();
    let mut seq = 0;
    while seq < n {
        let end = (seq + 1000).min(n);
        if !contender
            .enqueue_batch((seq..end).map(Payload::new).collect())
            .await?
        {
            return Ok(Measure::NotApplicable("no batch enqueue API"));
        }
        seq = end;
    }
    Ok(rate(n, start.elapsed()))
}

/// Enqueues `0..n` in batches of 1,000 (through the batch API where there is one).
async fn enqueue_all(contender: &dyn Contender, n: u64) -> Result<()> {
    let mut seq = 0;
    while seq < n {
        let end = (seq + 1000).min(n);
        let jobs: Vec<_> = (seq..end).map(Payload::new).collect();
        if !contender.enqueue_batch(jobs.clone()).await? {
            for job in jobs {
                contender.enqueue_one(job).await?;
            }
        }
        seq = end;
    }
    Ok(())
}

fn deadline_for(n: u64) -> Instant {
    Instant::now() + Duration::from_secs(120 + n / 50)
}

/// Waits until the database has no unfinished job (where the contender can tell).
pub(crate) async fn wait_finished(contender: &dyn Contender, deadline: Instant) -> Result<()> {
    while let Some(left) = contender.unfinished().await? {
        if left == 0 {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "{left} jobs never finished");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    Ok(())
}

/// W3 (and W6 with `finished` rows already there): `n` ready jobs, one worker in this
/// process with concurrency 8, timed from worker start until every job ran and is
/// finished in the database. Also returns PostgreSQL's dead tuples afterwards.
async fn drain(
    config: &Config,
    name: &str,
    target: &Target,
    finished: u64,
) -> Result<(Measure, Measure)> {
    let n = config.jobs;
    let recorder = Arc::new(Recorder::new(true));
    let contender = contenders::connect(name, target, recorder.clone()).await?;
    if finished > 0 && !contender.insert_finished(finished).await? {
        let na = Measure::NotApplicable("cannot insert finished jobs");
        return Ok((na.clone(), na));
    }
    enqueue_all(contender.as_ref(), n).await?;
    let deadline = deadline_for(n);
    let start = Instant::now();
    let workers = contender.start_workers(CONCURRENCY).await?;
    while recorder.executed() < n {
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {} of {n} jobs ran",
            recorder.executed()
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    wait_finished(contender.as_ref(), deadline).await?;
    let elapsed = start.elapsed();
    workers.shutdown().await?;
    check_exactly_once(n, &recorder.take_seqs())?;
    drop(contender);
    let dead = match target.pg_url() {
        Some(url) => {
            // Backends report their statistics at most once a second.
            tokio::time::sleep(Duration::from_millis(if config.quick { 200 } else { 1500 })).await;
            Measure::Count(databases::dead_tuples(url).await?)
        }
        None => Measure::NotApplicable("PostgreSQL only"),
    };
    Ok((rate(n, elapsed), dead))
}

/// W4: `n` ready jobs drained by 4 worker processes (concurrency 8 each), timed from
/// the `go` until every job ran and is finished; each job must run exactly once.
async fn drain_processes(name: &str, target: &Target, n: u64) -> Result<Measure> {
    let contender = connect(name, target, false).await?;
    enqueue_all(contender.as_ref(), n).await?;
    let mut procs = (0..WORKER_PROCESSES)
        .map(|_| WorkerProc::spawn(name, target, CONCURRENCY, true))
        .collect::<Result<Vec<_>>>()?;
    for proc in &mut procs {
        proc.ready().await?;
    }
    let deadline = deadline_for(n);
    let start = Instant::now();
    for proc in &mut procs {
        proc.go().await?;
    }
    loop {
        let done: u64 = procs.iter().map(WorkerProc::executed).sum();
        if done >= n {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "only {done} of {n} jobs ran");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    wait_finished(contender.as_ref(), deadline).await?;
    let elapsed = start.elapsed();
    let mut seqs = Vec::new();
    for proc in procs {
        seqs.extend(proc.stop().await?.seqs);
    }
    check_exactly_once(n, &seqs)?;
    Ok(rate(n, elapsed))
}

/// W5: an idle worker (in another process, or in this one with `local`), jobs
/// enqueued one by one at a fixed interval; each records `start - enqueue` from the
/// timestamp in its payload.
async fn latency(config: &Config, name: &str, target: &Target, local: bool) -> Result<Measure> {
    let (count, interval) = config.latency_jobs();
    let recorder = Arc::new(Recorder::new(false));
    let contender = contenders::connect(name, target, recorder.clone()).await?;
    let mut proc = None;
    let mut local_workers = None;
    if local {
        local_workers = Some(contender.start_workers(CONCURRENCY).await?);
    } else {
        let mut p = WorkerProc::spawn(name, target, CONCURRENCY, false)?;
        p.ready().await?;
        p.go().await?;
        proc = Some(p);
    }
    // Let the worker settle into idleness.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let start = Instant::now();
    for seq in 0..count {
        let job = Payload {
            seq,
            enq_us: now_us(),
        };
        contender.enqueue_one(job).await?;
        let next = start + interval * u32::try_from(seq + 1)?;
        tokio::time::sleep_until(next.into()).await;
    }
    let deadline = deadline_for(count);
    let executed = || match &proc {
        Some(p) => p.executed(),
        None => recorder.executed(),
    };
    while executed() < count {
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {} of {count} jobs ran",
            executed()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut latencies = match (proc, local_workers) {
        (Some(p), _) => p.stop().await?.latencies_us,
        (None, Some(w)) => {
            w.shutdown().await?;
            recorder.take_latencies_us()
        }
        (None, None) => unreachable!("one of the two is set above"),
    };
    anyhow::ensure!(!latencies.is_empty(), "no latency recorded");
    latencies.sort_unstable();
    Ok(Measure::Latency {
        p50_ms: percentile_ms(&latencies, 50),
        tail_ms: percentile_ms(&latencies, 99),
    })
}

/// Nearest-rank percentile of sorted microseconds, in milliseconds.
#[allow(
    clippy::cast_precision_loss,
    reason = "latencies are far below 2^52 µs"
)]
pub(crate) fn percentile_ms(sorted_us: &[i64], p: usize) -> f64 {
    let rank = (sorted_us.len() * p).div_ceil(100).max(1);
    sorted_us[rank - 1] as f64 / 1000.0
}

/// Worker peak RSS: one worker process (concurrency 8) with `pending` jobs waiting,
/// read from `VmHWM` once it has run 20,000 of them (500 in quick mode) or after 60 s,
/// whichever comes first (a worker that slows down with a big table still gets measured).
async fn peak_rss(config: &Config, name: &str, target: &Target) -> Result<Measure> {
    let pending = config.rss_pending();
    let contender = connect(name, target, false).await?;
    contender.insert_pending(pending).await?;
    let mut proc = WorkerProc::spawn(name, target, CONCURRENCY, false)?;
    proc.ready().await?;
    proc.go().await?;
    let goal = pending.min(if config.quick { 500 } else { 20_000 });
    let deadline = Instant::now() + Duration::from_secs(60);
    while proc.executed() < goal && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let pid = proc.pid().context("the worker process has exited")?;
    let mib = peak_rss_mib(pid)?;
    eprintln!("  rss: {mib:.1} MiB after {} jobs", proc.executed());
    anyhow::ensure!(proc.executed() > 0, "the worker ran no job in 60 s");
    proc.stop().await?;
    Ok(Measure::Mib(mib))
}

#[cfg(test)]
mod tests {
    use super::percentile_ms;

    #[test]
    fn percentiles_are_nearest_rank() {
        let us: Vec<i64> = (1..=200).map(|i| i * 1000).collect();
        assert_eq!(percentile_ms(&us, 50), 100.0);
        assert_eq!(percentile_ms(&us, 99), 198.0);
        assert_eq!(percentile_ms(&[5000], 99), 5.0);
    }
}

//! Jobs run by the worker processes of the process-level tests.

use std::io::Write;
use std::time::Duration;

use kiribi::{JobContext, job};

/// The directory where `record_run` appends one line per run, one file per process.
pub const RUN_LOG_DIR_ENV: &str = "KIRIBI_TEST_RUN_LOG";

/// The cron of the schedule `test.ticks` that a test worker declares at start.
pub const CRON_ENV: &str = "KIRIBI_TEST_CRON";
/// The worker process's `cancel_grace` in milliseconds, when set.
pub const CANCEL_GRACE_ENV: &str = "KIRIBI_TEST_CANCEL_GRACE_MS";

/// Makes sure this module is linked into a binary (see the `inventory` caveat).
pub fn link() {}

/// Appends `<job id> <attempt>` to this process's run log.
fn record_run(ctx: &JobContext) -> std::io::Result<()> {
    let Ok(dir) = std::env::var(RUN_LOG_DIR_ENV) else {
        return Ok(());
    };
    let path = std::path::Path::new(&dir).join(format!("{}.log", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    // One write of the whole line: O_APPEND keeps it whole among other processes'.
    file.write_all(format!("{} {}\n", ctx.id(), ctx.attempt()).as_bytes())
}

/// A no-op job that logs each run, for drain tests.
#[job(name = "test.drain")]
pub async fn drain(ctx: JobContext, n: u64) -> Result<u64, std::io::Error> {
    record_run(&ctx)?;
    Ok(n)
}

/// Hangs on its first attempt (after creating `marker`), succeeds on later ones.
#[job(name = "test.hang_once", retry_delay = "10ms")]
pub async fn hang_once(ctx: JobContext, marker: String) -> Result<u32, std::io::Error> {
    record_run(&ctx)?;
    if ctx.attempt() == 1 {
        std::fs::write(&marker, b"started")?;
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    Ok(ctx.attempt())
}

/// The job of the cron schedule that test processes declare when started with
/// `WorkerStart::cron`: logs each run.
#[job(name = "test.tick")]
pub async fn tick(ctx: JobContext, label: String) -> Result<String, std::io::Error> {
    record_run(&ctx)?;
    Ok(label)
}

/// A short job (`millis` long, 0 for none) with a single attempt: an attempt
/// charged for anything but its own error would fail it.
#[job(name = "test.brief", max_attempts = 1)]
pub async fn brief(ctx: JobContext, millis: u64) -> Result<u32, std::io::Error> {
    record_run(&ctx)?;
    if millis > 0 {
        tokio::time::sleep(Duration::from_millis(millis)).await;
    }
    Ok(ctx.attempt())
}

/// A poison pill: SIGKILLs the worker process that runs it, on every attempt.
#[job(name = "test.kill_own_worker")]
pub async fn kill_own_worker(ctx: JobContext) -> Result<(), std::io::Error> {
    record_run(&ctx)?;
    std::process::Command::new("kill")
        .arg("-KILL")
        .arg(std::process::id().to_string())
        .status()?;
    // SIGKILL is delivered before `kill` returns; nothing runs past this.
    std::future::pending().await
}

/// A job unique by its whole payload (DESIGN §8's `sync_user`).
#[job(name = "test.sync_user", unique)]
pub async fn sync_user(user_id: i64, full: bool) -> Result<(), String> {
    let _ = (user_id, full);
    Ok(())
}

/// A job unique by one field for each hour (DESIGN §8's `digest`).
#[job(name = "test.digest", unique(fields = [user_id], period = "1h"))]
pub async fn digest(user_id: i64, note: String) -> Result<(), String> {
    let _ = (user_id, note);
    Ok(())
}

/// Appends `<key> <start µs> <end µs>` to this process's span log (see
/// `kiribi_tests::process::read_spans`).
fn record_span(key: &str, start_us: i64) -> std::io::Result<()> {
    let Ok(dir) = std::env::var(RUN_LOG_DIR_ENV) else {
        return Ok(());
    };
    let dir = std::path::Path::new(&dir).join("spans");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{}.log", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let end_us = now_us();
    file.write_all(format!("{key} {start_us} {end_us}\n").as_bytes())
}

/// Unix time in µs.
pub fn now_us() -> i64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_micros()).unwrap_or(i64::MAX)
}

/// At most 2 at once per account, across every worker (DESIGN §9's `charge`); runs
/// `millis` and logs its span.
#[job(name = "test.per_account", concurrency = 2, concurrency_key = account_id)]
pub async fn per_account(account_id: i64, millis: u64) -> Result<(), std::io::Error> {
    let start = now_us();
    tokio::time::sleep(Duration::from_millis(millis)).await;
    record_span(&account_id.to_string(), start)
}

/// One at a time everywhere; runs `millis` and logs its span. With a `marker`, its
/// first attempt creates the file and hangs (for a worker to be killed holding the
/// slot).
#[job(name = "test.exclusive", concurrency = 1)]
pub async fn exclusive(
    ctx: JobContext,
    millis: u64,
    marker: Option<String>,
) -> Result<(), std::io::Error> {
    let start = now_us();
    if let Some(marker) = marker
        && ctx.attempt() == 1
    {
        std::fs::write(&marker, b"started")?;
        std::future::pending::<()>().await;
    }
    tokio::time::sleep(Duration::from_millis(millis)).await;
    record_span("exclusive", start)
}

/// At most 10 starts per second everywhere.
#[job(name = "test.rate_limited", rate_limit = "10/1s")]
pub async fn rate_limited(n: u64) -> Result<u64, String> {
    Ok(n)
}

/// Creates `<marker>.started`, waits until it is asked to stop, then creates
/// `<marker>.saw_cancel` (holding what `is_cancelled` said) and returns a value.
#[job(name = "test.until_cancelled")]
pub async fn until_cancelled(ctx: JobContext, marker: String) -> Result<u32, std::io::Error> {
    record_run(&ctx)?;
    std::fs::write(format!("{marker}.started"), b"started")?;
    ctx.cancelled().await;
    std::fs::write(
        format!("{marker}.saw_cancel"),
        ctx.is_cancelled().to_string(),
    )?;
    Ok(ctx.attempt())
}

/// Creates `<marker>.started` and hangs, ignoring any request to stop; creates
/// `<marker>.dropped` when its future is dropped.
#[job(name = "test.ignore_cancel")]
pub async fn ignore_cancel(ctx: JobContext, marker: String) -> Result<(), std::io::Error> {
    /// Creates its file when dropped, with the future that holds it.
    struct OnDrop(String);
    impl Drop for OnDrop {
        fn drop(&mut self) {
            let _ = std::fs::write(&self.0, b"dropped");
        }
    }
    record_run(&ctx)?;
    let _dropped = OnDrop(format!("{marker}.dropped"));
    std::fs::write(format!("{marker}.started"), b"started")?;
    tokio::time::sleep(Duration::from_secs(3600)).await;
    Ok(())
}

/// A flow step that runs `millis`, logs its run and its span (keyed by `step`) and
/// returns its step name. With a `marker`, its first attempt creates the file and
/// hangs (for its worker to be killed mid-flow).
#[job(name = "test.flow_step")]
pub async fn flow_step(
    ctx: JobContext,
    step: String,
    millis: u64,
    marker: Option<String>,
) -> Result<String, std::io::Error> {
    let start = now_us();
    record_run(&ctx)?;
    if let Some(marker) = marker
        && ctx.attempt() == 1
    {
        std::fs::write(&marker, b"started")?;
        std::future::pending::<()>().await;
    }
    tokio::time::sleep(Duration::from_millis(millis)).await;
    record_span(&step, start)?;
    Ok(step)
}

/// Fails its first attempt when asked to, for the trace propagation test (the
/// retry then continues the trace as a link).
#[job(name = "test.trace_hop", max_attempts = 2, retry_delay = "10ms")]
pub async fn trace_hop(ctx: JobContext, fail_first: bool) -> Result<(), String> {
    tracing::info!("hop");
    if fail_first && ctx.attempt() == 1 {
        return Err("the first attempt fails".to_owned());
    }
    Ok(())
}

//! Jobs run by the worker processes of the process-level tests.

use std::io::Write;
use std::time::Duration;

use kiribi::{JobContext, job};

/// The directory where `record_run` appends one line per run, one file per process.
pub const RUN_LOG_DIR_ENV: &str = "KIRIBI_TEST_RUN_LOG";

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

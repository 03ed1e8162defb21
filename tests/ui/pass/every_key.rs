use std::time::Duration;

use kiribi::{Backoff, Job, RateLimit, Unique, job};

#[job(
    name = "media.resize",
    queue = "media",
    max_attempts = 7,
    backoff = "linear",
    retry_delay = "250ms",
    timeout = "1m 30s",
    priority = -10,
    unique(fields = [r#type, width], period = "1h"),
    concurrency = 2,
    concurrency_key = r#type,
    rate_limit = "10/1s"
)]
async fn resize(path: String, r#type: String, width: u32) -> Result<u64, String> {
    Ok(u64::from(width) + path.len() as u64 + r#type.len() as u64)
}

const CONFIG: kiribi::JobConfig = <Resize as Job>::CONFIG;

fn main() {
    assert_eq!(CONFIG.name, "media.resize");
    assert_eq!(CONFIG.queue, "media");
    assert_eq!(CONFIG.max_attempts, 7);
    assert_eq!(CONFIG.retry.backoff, Backoff::Linear);
    assert_eq!(CONFIG.retry.retry_delay, Duration::from_millis(250));
    assert_eq!(CONFIG.timeout, Some(Duration::from_secs(90)));
    assert_eq!(CONFIG.priority, -10);
    assert_eq!(
        CONFIG.unique,
        Some(Unique::fields(&["type", "width"]).period(Duration::from_secs(3600)))
    );
    assert_eq!(CONFIG.concurrency, Some(2));
    assert_eq!(CONFIG.concurrency_key, Some("type"));
    assert_eq!(
        CONFIG.rate_limit,
        Some(RateLimit::new(10, Duration::from_secs(1)))
    );
}

//! Waiting for a condition with a deadline, never for a fixed time.

use std::future::Future;
use std::time::Duration;

use tokio::time::Instant;

/// Polls `check` every 10 ms until it returns `Some`, or panics after `limit`
/// saying what it waited for.
pub async fn until<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

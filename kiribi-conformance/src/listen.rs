//! Conformance check of `listen`: wake-ups for inserts made through other handles.

use std::time::Duration;

use kiribi_core::Storage;
use tokio::time::{Instant, timeout};

use super::{PATIENCE, enqueue, job};

/// How long one insert waits for its wake-up before the next insert is tried.
const WAKE_UP: Duration = Duration::from_secs(2);

/// How long the listener must stay quiet before a wake-up counts as new.
const QUIET: Duration = Duration::from_millis(250);

/// A listener made on one handle wakes up after inserts made through another (as by
/// another process), and coalescing never swallows the last insert of a batch.
/// A backend without a channel says so (`None`) on every handle.
pub async fn listener_announces_inserts_from_other_handles(
    first: &dyn Storage,
    second: &dyn Storage,
) {
    let Some(mut listener) = first.listen().await.expect("listen") else {
        assert!(
            second.listen().await.expect("listen").is_none(),
            "one handle has no wake-up channel, another has one"
        );
        return;
    };

    // The subscription may still be being set up when `listen` returns, so an insert
    // made right away may go unannounced: insert until one is.
    let deadline = Instant::now() + PATIENCE;
    let mut inserts = 0;
    loop {
        assert!(
            Instant::now() < deadline,
            "the listener announced none of {inserts} inserts made through another \
             handle within {PATIENCE:?}"
        );
        enqueue(second, vec![job("listened", inserts)]).await;
        inserts += 1;
        if let Ok(woken) = timeout(WAKE_UP, listener.recv()).await {
            woken.expect("the listener receives");
            break;
        }
    }

    // Let the wake-ups still due for those inserts arrive, so that the one awaited
    // next can only come from the batch. Wake-ups may be spurious, so this gives up
    // waiting for quiet at the deadline rather than failing.
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        match timeout(QUIET, listener.recv()).await {
            Ok(woken) => woken.expect("the listener receives"),
            Err(_quiet) => break,
        }
    }

    enqueue(second, (0..100).map(|n| job("listened", n)).collect()).await;
    timeout(PATIENCE, listener.recv())
        .await
        .unwrap_or_else(|_| {
            panic!(
                "no wake-up within {PATIENCE:?} of a batch of 100 inserted through another handle"
            )
        })
        .expect("the listener receives");
}

//! Conformance checks of queues: pausing and resuming them, and what `queues` counts.

use kiribi_core::Storage;
use kiribi_core::backend::NewJob;

use super::{HOUR, LONG_LEASE, claim, claim_one, enqueue, job, request};

fn in_queue(queue: &str, n: i64) -> NewJob {
    job("a", n).with_queue(queue)
}

/// No claim takes a paused queue's jobs; they stay pending and are claimed once the
/// queue is resumed. Pausing and resuming twice report that nothing changed.
pub async fn a_paused_queue_is_not_claimed_until_resumed(storage: &dyn Storage) {
    let media = enqueue(storage, vec![in_queue("media", 0), in_queue("media", 1)]).await;
    let mail = enqueue(storage, vec![in_queue("mail", 2)]).await;
    assert!(storage.pause_queue("media").await.expect("pause"));
    assert!(!storage.pause_queue("media").await.expect("pause again"));

    let claimed = claim(storage, &request("w", &["a"], 10, LONG_LEASE)).await;
    let ids: Vec<_> = claimed.iter().map(|job| job.id()).collect();
    assert_eq!(ids, mail, "only the queue that is not paused");
    assert!(
        claim(storage, &request("w", &["a"], 10, LONG_LEASE))
            .await
            .is_empty()
    );
    // Asking for the paused queue by name does not get around the pause either.
    let by_name = request("w", &["a"], 10, LONG_LEASE).with_queues(["media"]);
    assert!(claim(storage, &by_name).await.is_empty());

    assert!(storage.resume_queue("media").await.expect("resume"));
    assert!(!storage.resume_queue("media").await.expect("resume again"));
    let claimed = claim(storage, &request("w", &["a"], 10, LONG_LEASE)).await;
    let ids: Vec<_> = claimed.iter().map(|job| job.id()).collect();
    assert_eq!(ids, media);
}

/// `queues` lists every queue with unfinished jobs or paused, by name: waiting and
/// running jobs, and how long the longest-waiting due job has waited.
pub async fn queues_count_waiting_and_running_jobs(storage: &dyn Storage) {
    assert!(storage.queues().await.expect("queues").is_empty());
    enqueue(
        storage,
        vec![
            in_queue("mail", 0),
            in_queue("mail", 1),
            in_queue("later", 2).with_delay(HOUR),
        ],
    )
    .await;
    let running = claim_one(storage, "a", LONG_LEASE).await;
    assert!(storage.pause_queue("idle").await.expect("pause"));
    // Finished jobs are not counted.
    let done = enqueue(storage, vec![in_queue("done", 3)]).await[0];
    assert!(storage.cancel(done).await.expect("cancel"));

    let queues = storage.queues().await.expect("queues");
    let names: Vec<&str> = queues.iter().map(|queue| queue.name.as_str()).collect();
    assert_eq!(names, ["idle", "later", "mail"]);
    let (idle, later, mail) = (&queues[0], &queues[1], &queues[2]);
    assert!(idle.paused && idle.paused_at.is_some());
    assert_eq!(
        (idle.pending, idle.running, idle.oldest_pending_age),
        (0, 0, None)
    );
    assert!(!later.paused);
    assert_eq!((later.pending, later.running), (1, 0));
    assert_eq!(later.oldest_pending_age, None, "its only job is not due");
    assert_eq!((mail.pending, mail.running), (1, 1));
    assert!(mail.oldest_pending_age.is_some_and(|age| age < HOUR));
    assert_eq!(running.queue, "mail");
}

/// A pause made through one handle holds for claims through another (another
/// process), and so does the resume.
pub async fn a_pause_holds_for_every_handle(first: &dyn Storage, second: &dyn Storage) {
    let ids = enqueue(first, vec![in_queue("media", 0)]).await;
    assert!(first.pause_queue("media").await.expect("pause"));
    assert!(
        claim(second, &request("w", &["a"], 10, LONG_LEASE))
            .await
            .is_empty()
    );
    let listed = second.queues().await.expect("queues");
    assert!(
        listed
            .iter()
            .any(|queue| queue.name == "media" && queue.paused)
    );
    assert!(second.resume_queue("media").await.expect("resume"));
    let claimed = claim(first, &request("w", &["a"], 10, LONG_LEASE)).await;
    assert_eq!(claimed.iter().map(|job| job.id()).collect::<Vec<_>>(), ids);
}

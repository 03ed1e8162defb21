//! Unique jobs (DESIGN §8) through the public API, on each backend: equal jobs
//! enqueued twice, from many tasks in two processes at once, in one
//! `enqueue_many`, inside a transaction, by hand with `unique_key`, and per period.

use std::collections::HashSet;
use std::process::Stdio;
use std::time::Duration;

use kiribi::{EnqueueOptions, JobFilter, JobStatus, Kiribi, job};
use kiribi_tests::jobs::{Digest, SyncUser};
use kiribi_tests::{Backend, TestDb, backend_tests, wait_for_status};
use tokio::io::{AsyncBufReadExt, BufReader};

const ENQUEUER: &str = env!("CARGO_BIN_EXE_kiribi-test-enqueuer");

/// DESIGN §8's `Notify`: not unique itself, made unique by hand.
#[job(name = "test.notify")]
async fn notify(order_id: i64) -> Result<(), String> {
    let _ = order_id;
    Ok(())
}

fn sync(user_id: i64, full: bool) -> SyncUser {
    SyncUser { user_id, full }
}

async fn jobs_named(kiribi: &Kiribi, name: &str) -> usize {
    kiribi
        .jobs(JobFilter::new().name(name).limit(1000))
        .await
        .expect("list jobs")
        .len()
}

/// DESIGN §8 as written: the duplicate inserts nothing and returns the same id;
/// `insert` says that it was a duplicate.
async fn an_equal_job_is_enqueued_once(db: TestDb) {
    let kiribi = db.connect().await;
    let a = SyncUser::enqueue(&kiribi, sync(7, true)).await.unwrap();
    let b = SyncUser::enqueue(&kiribi, sync(7, true)).await.unwrap();
    assert_eq!(a, b, "the duplicate inserted nothing");
    let other = SyncUser::enqueue(&kiribi, sync(7, false)).await.unwrap();
    assert_ne!(other, a, "another payload is another key");

    let again = SyncUser::insert(&kiribi, sync(7, true), EnqueueOptions::new())
        .await
        .unwrap();
    assert!(again.duplicate);
    assert_eq!(again.id, a);
    let record = kiribi.job(a).await.unwrap().unwrap();
    assert!(record.unique_key.is_some(), "the record shows the key");
    assert_eq!(jobs_named(&kiribi, "test.sync_user").await, 2);

    // Once the job ran, the same arguments make a new job.
    let worker = kiribi.worker().start();
    wait_for_status(&kiribi, a, JobStatus::Succeeded).await;
    let fresh = SyncUser::insert(&kiribi, sync(7, true), EnqueueOptions::new())
        .await
        .unwrap();
    assert!(!fresh.duplicate);
    assert!(fresh.id > other);
    worker.shutdown().await.unwrap();
}

/// `unique(fields = [user_id], period = "1h")`: one job per user per window,
/// whatever the other fields and whatever became of the first job.
async fn a_field_key_for_a_period_outlives_the_job(db: TestDb) {
    let kiribi = db.connect().await;
    let first = Digest::enqueue(
        &kiribi,
        Digest {
            user_id: 1,
            note: "a".into(),
        },
    )
    .await
    .unwrap();
    let second = Digest::insert(
        &kiribi,
        Digest {
            user_id: 1,
            note: "b".into(),
        },
        EnqueueOptions::new(),
    )
    .await
    .unwrap();
    assert_eq!((second.id, second.duplicate), (first, true));
    let other_user = Digest::enqueue(
        &kiribi,
        Digest {
            user_id: 2,
            note: "a".into(),
        },
    )
    .await
    .unwrap();
    assert_ne!(other_user, first);

    let worker = kiribi.worker().start();
    wait_for_status(&kiribi, first, JobStatus::Succeeded).await;
    worker.shutdown().await.unwrap();
    let after = Digest::insert(
        &kiribi,
        Digest {
            user_id: 1,
            note: "c".into(),
        },
        EnqueueOptions::new(),
    )
    .await
    .unwrap();
    // Held for the whole window although the job finished: a duplicate, unless the
    // test ran across the top of an hour and this is the next window's job.
    let window_of = |key: Option<String>| {
        key.and_then(|key| key.split_once('@').map(|(_, window)| window.to_owned()))
            .expect("a period key names its window")
    };
    let first_window = window_of(kiribi.job(first).await.unwrap().unwrap().unique_key);
    if after.duplicate {
        assert_eq!(after.id, first);
    } else {
        let next = window_of(kiribi.job(after.id).await.unwrap().unwrap().unique_key);
        assert!(next > first_window, "{next} follows {first_window}");
    }
}

/// `EnqueueOptions::unique_key` makes any job unique by hand, among jobs of its
/// name.
async fn a_key_by_hand_makes_any_job_unique(db: TestDb) {
    let kiribi = db.connect().await;
    let key = || EnqueueOptions::new().unique_key("order:42");
    let a = Notify::enqueue_with(&kiribi, Notify { order_id: 42 }, key())
        .await
        .unwrap();
    let b = Notify::enqueue_with(&kiribi, Notify { order_id: 43 }, key())
        .await
        .unwrap();
    assert_eq!(a, b, "the key, not the payload, decides");
    let plain = Notify::enqueue(&kiribi, Notify { order_id: 42 })
        .await
        .unwrap();
    assert_ne!(plain, a, "without the key the job is not unique");
    let empty = Notify::enqueue_with(
        &kiribi,
        Notify { order_id: 1 },
        EnqueueOptions::new().unique_key(""),
    )
    .await;
    assert!(
        matches!(
            empty,
            Err(kiribi::Error::InvalidOption {
                option: "unique_key",
                ..
            })
        ),
        "{empty:?}"
    );
}

/// Duplicates within one `enqueue_many` get the first one's id.
async fn enqueue_many_keeps_one_of_equal_jobs(db: TestDb) {
    let kiribi = db.connect().await;
    let ids = SyncUser::enqueue_many(
        &kiribi,
        [
            sync(1, true),
            sync(2, true),
            sync(1, true),
            sync(3, true),
            sync(2, true),
        ],
    )
    .await
    .unwrap();
    assert_eq!(ids[2], ids[0]);
    assert_eq!(ids[4], ids[1]);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 3);
    assert_eq!(jobs_named(&kiribi, "test.sync_user").await, 3);
}

/// Inside the application's transaction: a duplicate of a committed job is
/// reported, and a job rolled back frees its key.
async fn unique_jobs_keep_their_key_inside_a_transaction(db: TestDb) {
    let kiribi = db.connect().await;
    let committed = SyncUser::enqueue(&kiribi, sync(1, true)).await.unwrap();
    match db.backend() {
        Backend::Sqlite => {
            let pool = kiribi.sqlite_pool().unwrap();
            let mut conn = pool.acquire().await.unwrap();
            let mut tx = kiribi::sqlx::Connection::begin_with(&mut *conn, "BEGIN IMMEDIATE")
                .await
                .unwrap();
            let dup = SyncUser::enqueue(&mut *tx, sync(1, true)).await.unwrap();
            assert_eq!(dup, committed);
            let rolled_back = SyncUser::enqueue(&mut *tx, sync(2, true)).await.unwrap();
            let again = SyncUser::enqueue(&mut *tx, sync(2, true)).await.unwrap();
            assert_eq!(again, rolled_back, "a duplicate within the transaction");
            tx.rollback().await.unwrap();
        }
        Backend::Postgres => {
            let pool = kiribi.pg_pool().unwrap();
            let mut tx = pool.begin().await.unwrap();
            let dup = SyncUser::enqueue(&mut *tx, sync(1, true)).await.unwrap();
            assert_eq!(dup, committed);
            let rolled_back = SyncUser::enqueue(&mut *tx, sync(2, true)).await.unwrap();
            let again = SyncUser::enqueue(&mut *tx, sync(2, true)).await.unwrap();
            assert_eq!(again, rolled_back, "a duplicate within the transaction");
            tx.rollback().await.unwrap();
        }
    }
    let after = SyncUser::insert(&kiribi, sync(2, true), EnqueueOptions::new())
        .await
        .unwrap();
    assert!(!after.duplicate, "the rolled-back job held nothing");
    assert_eq!(jobs_named(&kiribi, "test.sync_user").await, 2);
}

/// 8 tasks in each of 2 processes enqueue the same job at once: one job, and all
/// 16 calls report its id.
async fn many_tasks_in_two_processes_enqueue_one_job(db: TestDb) {
    let kiribi = db.connect().await;
    let go = db.dir().join("go");
    let mut children = Vec::new();
    for _ in 0..2 {
        let mut child = tokio::process::Command::new(ENQUEUER)
            .args([db.url(), "8", "77", go.to_str().unwrap()])
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start the enqueuer");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let ready = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .expect("the enqueuer connects in time")
            .unwrap();
        assert_eq!(ready.as_deref(), Some("ready"));
        children.push((child, lines));
    }
    std::fs::write(&go, b"go").unwrap();

    let mut reports = Vec::new();
    for (mut child, mut lines) in children {
        while let Some(line) = lines.next_line().await.unwrap() {
            let (id, what) = line.split_once(' ').expect("`<id> <what>`");
            reports.push((id.to_owned(), what.to_owned()));
        }
        assert!(
            child.wait().await.unwrap().success(),
            "the enqueuer succeeded"
        );
    }
    assert_eq!(reports.len(), 16, "{reports:?}");
    let ids: HashSet<&str> = reports.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids.len(), 1, "every call reports the one job: {reports:?}");
    let inserted = reports
        .iter()
        .filter(|(_, what)| what == "inserted")
        .count();
    assert_eq!(inserted, 1, "{reports:?}");
    assert_eq!(jobs_named(&kiribi, "test.sync_user").await, 1);
}

backend_tests!(
    an_equal_job_is_enqueued_once,
    a_field_key_for_a_period_outlives_the_job,
    a_key_by_hand_makes_any_job_unique,
    enqueue_many_keeps_one_of_equal_jobs,
    unique_jobs_keep_their_key_inside_a_transaction,
    many_tasks_in_two_processes_enqueue_one_job,
);

//! Conformance checks of rollups, retention and counting: every finished job counted
//! once whether or not it was rolled up or pruned, two handles rolling up at once,
//! pruning only what was counted and retention no longer keeps, flows pruned whole.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use kiribi_core::backend::{NewFlow, NewFlowStep, NewJob, Outcome, Rollup, Rollups};
use kiribi_core::{JobFilter, JobId, JobStatus, LogLevel, NewLogLine, Retention, Storage};

use super::{LONG_LEASE, claim_one, complete, enqueue, get, job};
use crate::wait;

/// Succeeded, failed, cancelled and retried counts of one name in `rows`.
fn totals(rows: &[Rollup], name: &str) -> (u64, u64, u64, u64) {
    let mut all = Rollups::default();
    for row in rows.iter().filter(|row| row.name == name) {
        let mut row = row.clone();
        row.minute = chrono::DateTime::UNIX_EPOCH;
        all.add_row(&row);
    }
    all.into_rows().first().map_or((0, 0, 0, 0), |row| {
        (row.succeeded, row.failed, row.cancelled, row.retried)
    })
}

async fn rollups(storage: &dyn Storage) -> Vec<Rollup> {
    storage
        .rollups(Utc::now() - TimeDelta::hours(1))
        .await
        .expect("rollups")
}

/// Rolls up with no lag until caught up, once the clock has passed every job
/// finished so far (a roll-up counts jobs finished before its start).
async fn roll_up_all(storage: &dyn Storage) {
    let finished = Utc::now();
    wait::until(
        "the clock to pass the last finish",
        super::PATIENCE,
        || async { (Utc::now() > finished + TimeDelta::milliseconds(2)).then_some(()) },
    )
    .await;
    wait::until("a roll-up that catches up", super::PATIENCE, || async {
        let progress = storage.roll_up(Duration::ZERO).await.expect("roll_up");
        progress.caught_up.then_some(())
    })
    .await;
}

/// Runs one `name` job to `outcome`; returns its id.
async fn finish(storage: &dyn Storage, name: &str, outcome: Outcome) -> JobId {
    enqueue(storage, vec![job(name, 0)]).await;
    let claimed = claim_one(storage, name, LONG_LEASE).await;
    assert!(
        complete(storage, claimed.lease.clone(), outcome)
            .await
            .expect("complete")
    );
    claimed.lease.id
}

/// 3 succeeded (one after a retry), 2 failed, 1 cancelled before it ran.
async fn a_mixed_history(storage: &dyn Storage, name: &str) {
    for _ in 0..2 {
        finish(storage, name, Outcome::succeeded(None)).await;
    }
    let retried = finish(storage, name, Outcome::retry("once", Duration::ZERO)).await;
    let again = claim_one(storage, name, LONG_LEASE).await;
    assert_eq!(again.lease.id, retried);
    assert!(
        complete(storage, again.lease, Outcome::succeeded(None))
            .await
            .expect("complete")
    );
    for _ in 0..2 {
        finish(storage, name, Outcome::failed("no")).await;
    }
    let waiting = enqueue(storage, vec![job(name, 9)]).await;
    assert!(storage.cancel(waiting[0]).await.expect("cancel"));
}

/// Jobs are counted by their final status before and after a roll-up alike (the
/// jobs past the watermark are folded on the fly), a job finished after a
/// roll-up is added, and rolling up again changes nothing; run and wait times
/// are measured for the jobs that ran.
pub async fn rollups_count_every_finished_job_once(storage: &dyn Storage) {
    a_mixed_history(storage, "mixed").await;
    let expected = (3, 2, 1, 1);
    assert_eq!(
        totals(&rollups(storage).await, "mixed"),
        expected,
        "before a roll-up"
    );

    roll_up_all(storage).await;
    let rows = rollups(storage).await;
    assert_eq!(totals(&rows, "mixed"), expected, "after a roll-up");
    let row = rows.iter().find(|row| row.name == "mixed").expect("a row");
    assert_eq!(row.queue, "default");
    let ran: u64 = rows.iter().map(|row| row.run_time.count()).sum();
    let waited: u64 = rows.iter().map(|row| row.wait_time.count()).sum();
    assert_eq!((ran, waited), (5, 5), "the 5 jobs that ran are timed");

    finish(storage, "mixed", Outcome::succeeded(None)).await;
    assert_eq!(totals(&rollups(storage).await, "mixed"), (4, 2, 1, 1));
    roll_up_all(storage).await;
    roll_up_all(storage).await;
    assert_eq!(
        totals(&rollups(storage).await, "mixed"),
        (4, 2, 1, 1),
        "rolled up twice"
    );
    assert_eq!(totals(&rollups(storage).await, "unknown"), (0, 0, 0, 0));
}

/// Two handles rolling up at the same time count each job once, and so do
/// roll-ups while jobs finish, as long as the lag covers the time a completion
/// takes to commit after it was stamped (a job stamped before a roll-up's
/// cut-off but committed after the roll-up would be missed: that is what the lag
/// is for).
pub async fn concurrent_roll_ups_from_two_handles_count_each_job_once(
    first: &dyn Storage,
    second: &dyn Storage,
) {
    async fn roll(storage: &dyn Storage, lag: Duration) {
        for _ in 0..20 {
            storage.roll_up(lag).await.expect("roll_up");
        }
    }
    for _ in 0..20 {
        finish(first, "rolled", Outcome::succeeded(None)).await;
    }
    let finished = Utc::now();
    wait::until(
        "the clock to pass the last finish",
        super::PATIENCE,
        || async { (Utc::now() > finished + TimeDelta::milliseconds(2)).then_some(()) },
    )
    .await;
    tokio::join!(roll(first, Duration::ZERO), roll(second, Duration::ZERO));
    assert_eq!(totals(&rollups(second).await, "rolled"), (20, 0, 0, 0));

    let lag = Duration::from_secs(2);
    let jobs = async {
        for _ in 0..20 {
            finish(second, "rolled", Outcome::succeeded(None)).await;
        }
    };
    tokio::join!(roll(first, lag), roll(second, lag), jobs);
    roll_up_all(first).await;
    assert_eq!(totals(&rollups(second).await, "rolled"), (40, 0, 0, 0));
}

/// Pruning deletes only finished jobs past their status's retention and already
/// rolled up, with their attempts and log lines; the statistics stay the same.
pub async fn prune_deletes_only_counted_jobs_past_retention(storage: &dyn Storage) {
    a_mixed_history(storage, "pruned").await;
    let pending = enqueue(storage, vec![job("pruned", 10)]).await[0];
    let succeeded = storage
        .list(&JobFilter::new().name("pruned").status(JobStatus::Succeeded))
        .await
        .expect("list");
    let logged = succeeded[0].id;
    storage
        .append_logs(&[NewLogLine::new(logged, 1, LogLevel::Info, "a line").with_seq(0)])
        .await
        .expect("append_logs");
    let keep_failed = Retention::new()
        .succeeded(Duration::ZERO)
        .cancelled(Duration::ZERO)
        .failed(None);

    assert_eq!(
        storage.prune(&keep_failed, 100).await.expect("prune"),
        0,
        "nothing is pruned before it is rolled up"
    );
    roll_up_all(storage).await;
    assert_eq!(
        storage
            .prune(&Retention::forever(), 100)
            .await
            .expect("prune"),
        0,
        "forever keeps everything"
    );
    assert_eq!(
        storage.prune(&Retention::new(), 100).await.expect("prune"),
        0,
        "a day is not over yet"
    );
    // Batches of 2 until one finds nothing: no waiting involved, each call
    // deletes what is there.
    let mut pruned = Vec::new();
    loop {
        let deleted = storage.prune(&keep_failed, 2).await.expect("prune");
        if deleted == 0 {
            break;
        }
        pruned.push(deleted);
        assert!(pruned.len() < 10, "pruning ends: {pruned:?}");
    }
    assert_eq!(
        pruned,
        [2, 2],
        "3 succeeded and 1 cancelled, a batch of 2 per call"
    );

    let left = storage
        .list(&JobFilter::new().name("pruned"))
        .await
        .expect("list");
    let mut statuses: Vec<JobStatus> = left.iter().map(|job| job.status).collect();
    statuses.sort_by_key(|status| status.as_str());
    assert_eq!(
        statuses,
        [JobStatus::Failed, JobStatus::Failed, JobStatus::Pending]
    );
    assert_eq!(get(storage, pending).await.status, JobStatus::Pending);
    assert!(storage.get(logged).await.expect("get").is_none());
    assert!(storage.logs(logged).await.expect("logs").is_empty());
    assert!(storage.attempts(logged).await.expect("attempts").is_empty());
    assert_eq!(
        totals(&rollups(storage).await, "pruned"),
        (3, 2, 1, 1),
        "the statistics outlive the jobs"
    );
}

/// A flow's steps are pruned together, and only once every one is finished and
/// past its retention; its record goes with its last step.
pub async fn a_flow_is_pruned_whole_once_every_step_is_done(storage: &dyn Storage) {
    let flow = NewFlow::new("two steps")
        .with_step(NewFlowStep::new("first", job("first", 0)))
        .with_step(NewFlowStep::new("second", job("second", 0)).with_depends_on(["first"]));
    let id = storage.enqueue_flow(&flow).await.expect("enqueue_flow");
    let first = claim_one(storage, "first", LONG_LEASE).await;
    assert!(
        complete(storage, first.lease, Outcome::succeeded(None))
            .await
            .expect("complete")
    );
    let prune_all = Retention::new()
        .succeeded(Duration::ZERO)
        .failed(Duration::ZERO)
        .cancelled(Duration::ZERO);

    roll_up_all(storage).await;
    assert_eq!(
        storage.prune(&prune_all, 100).await.expect("prune"),
        0,
        "a step of an unfinished flow is kept"
    );
    assert_eq!(
        storage
            .flow(id)
            .await
            .expect("flow")
            .expect("kept")
            .steps
            .len(),
        2
    );

    let second = claim_one(storage, "second", LONG_LEASE).await;
    assert!(
        complete(storage, second.lease, Outcome::succeeded(None))
            .await
            .expect("complete")
    );
    roll_up_all(storage).await;
    assert_eq!(storage.prune(&prune_all, 100).await.expect("prune"), 2);
    assert!(
        storage.flow(id).await.expect("flow").is_none(),
        "the flow went with its steps"
    );
}

/// `count` says how many jobs `list` would return without a limit, for each
/// criterion.
pub async fn count_matches_what_list_returns(storage: &dyn Storage) {
    a_mixed_history(storage, "counted").await;
    enqueue(
        storage,
        vec![
            job("counted", 20),
            job("counted", 21).with_queue("media"),
            job("other", 0),
        ],
    )
    .await;
    claim_one(storage, "other", LONG_LEASE).await;
    let retrying = finish(
        storage,
        "counted",
        Outcome::retry("later", Duration::from_secs(3600)),
    )
    .await;
    assert_eq!(get(storage, retrying).await.status, JobStatus::Retrying);

    let mut filters = vec![
        JobFilter::new(),
        JobFilter::new().name("counted"),
        JobFilter::new().queue("media"),
        JobFilter::new().name("counted").queue("default"),
        JobFilter::new().before(retrying),
        JobFilter::new()
            .status(JobStatus::Succeeded)
            .before(retrying),
    ];
    for status in [
        JobStatus::Pending,
        JobStatus::Running,
        JobStatus::Retrying,
        JobStatus::Succeeded,
        JobStatus::Failed,
        JobStatus::Cancelled,
    ] {
        filters.push(JobFilter::new().status(status));
        filters.push(JobFilter::new().status(status).name("counted"));
    }
    for filter in filters {
        let listed = storage
            .list(&filter.clone().limit(10_000))
            .await
            .expect("list")
            .len();
        let counted = storage
            .count(&filter.clone().limit(1))
            .await
            .expect("count");
        assert_eq!(counted, listed as u64, "{filter:?}");
    }
    assert_eq!(storage.count(&JobFilter::new()).await.expect("count"), 10);
}

/// Text in the payload or the last error, and creation and finish time ranges,
/// select the same jobs for `list` and `count`.
pub async fn list_and_count_filter_by_text_and_time(storage: &dyn Storage) {
    let before = Utc::now() - TimeDelta::seconds(1);
    let ids = enqueue(
        storage,
        vec![
            NewJob::new("texts", serde_json::json!({ "email": "alice@example.com" })),
            NewJob::new("texts", serde_json::json!({ "email": "bob@example.com" })),
            NewJob::new("texts", serde_json::json!({ "note": "100% <b>done</b>_" })),
        ],
    )
    .await;
    let bob = claim_one(storage, "texts", LONG_LEASE).await;
    assert_eq!(bob.lease.id, ids[0]);
    assert!(
        complete(
            storage,
            bob.lease,
            Outcome::failed("SMTP said: mailbox full")
        )
        .await
        .expect("complete")
    );
    let after = Utc::now() + TimeDelta::seconds(1);

    let matches = |filter: JobFilter| filtered(storage, filter);
    let texts = || JobFilter::new().name("texts");
    assert_eq!(matches(texts().text("alice@")).await, [ids[0]]);
    assert_eq!(matches(texts().text("example.com")).await, [ids[1], ids[0]]);
    assert_eq!(
        matches(texts().text("mailbox full")).await,
        [ids[0]],
        "the last error"
    );
    assert_eq!(
        matches(texts().text("100% <b>")).await,
        [ids[2]],
        "no wildcard"
    );
    assert_eq!(matches(texts().text("%")).await, [ids[2]]);
    assert_eq!(matches(texts().text("_")).await, [ids[2]]);
    assert!(
        matches(texts().text("ALICE")).await.is_empty(),
        "case-sensitive"
    );
    assert_eq!(matches(texts().created_after(before)).await.len(), 3);
    assert!(matches(texts().created_before(before)).await.is_empty());
    assert_eq!(
        matches(texts().created_after(before).created_before(after))
            .await
            .len(),
        3
    );
    assert_eq!(matches(texts().finished_after(before)).await, [ids[0]]);
    assert!(matches(texts().finished_after(after)).await.is_empty());
    assert_eq!(
        matches(texts().finished_before(after).status(JobStatus::Failed)).await,
        [ids[0]]
    );
}

/// What the text and creation-time criteria select for the jobs of `name`: each
/// filter's ids, listed and counted alike.
async fn search_answers(
    storage: &dyn Storage,
    name: &str,
    since: chrono::DateTime<Utc>,
) -> Vec<Vec<JobId>> {
    let mut answers = Vec::new();
    for text in [
        "alice@",
        "example.com",
        "mailbox full",
        "100% <b>",
        "%",
        "_",
        "\\",
        "ALICE",
        "ob",
        "\"quoted\"",
        "naïve",
        "quota",
        "carol",
    ] {
        answers.push(filtered(storage, JobFilter::new().name(name).text(text)).await);
    }
    answers.push(filtered(storage, JobFilter::new().name(name).created_after(since)).await);
    answers.push(filtered(storage, JobFilter::new().name(name).created_before(since)).await);
    answers.push(
        filtered(
            storage,
            JobFilter::new()
                .name(name)
                .text("example")
                .created_after(since),
        )
        .await,
    );
    answers
}

async fn filtered(storage: &dyn Storage, filter: JobFilter) -> Vec<JobId> {
    let listed: Vec<JobId> = storage
        .list(&filter)
        .await
        .expect("list")
        .into_iter()
        .map(|job| job.id)
        .collect();
    let counted = storage.count(&filter).await.expect("count");
    assert_eq!(counted, listed.len() as u64, "{filter:?}");
    listed
}

/// The search indexes change no answer: the text and creation-time criteria select
/// the same jobs before and after `create_search_indexes` (called twice), and jobs
/// enqueued, failed or deleted afterwards are found, or not, as without them.
pub async fn search_indexes_give_the_same_answers(storage: &dyn Storage) {
    let texts = |notes: &[&str]| {
        notes
            .iter()
            .map(|note| NewJob::new("searched", serde_json::json!({ "note": note })))
            .collect::<Vec<_>>()
    };
    let ids = enqueue(
        storage,
        texts(&[
            "alice@example.com",
            "bob@example.com",
            "100% <b>done</b>_ \\ \"quoted\"",
            "naïve",
        ]),
    )
    .await;
    let alice = claim_one(storage, "searched", LONG_LEASE).await;
    assert_eq!(alice.lease.id, ids[0]);
    assert!(
        complete(
            storage,
            alice.lease,
            Outcome::failed("SMTP said: mailbox full")
        )
        .await
        .expect("complete")
    );
    let since = Utc::now() - TimeDelta::seconds(1);
    let without = search_answers(storage, "searched", since).await;
    assert_eq!(without[0], [ids[0]], "the check finds something to compare");

    storage
        .create_search_indexes()
        .await
        .expect("create the search indexes");
    storage
        .create_search_indexes()
        .await
        .expect("a second call changes nothing");
    assert_eq!(search_answers(storage, "searched", since).await, without);

    // After the indexes: a new job, a new error, a deleted job.
    let carol = enqueue(storage, texts(&["carol@example.com"])).await[0];
    let bob = claim_one(storage, "searched", LONG_LEASE).await;
    assert_eq!(bob.lease.id, ids[1]);
    assert!(
        complete(storage, bob.lease, Outcome::failed("quota exceeded"))
            .await
            .expect("complete")
    );
    assert!(storage.delete(ids[3]).await.expect("delete"));
    let found =
        |text: &'static str| filtered(storage, JobFilter::new().name("searched").text(text));
    assert_eq!(found("carol").await, [carol]);
    assert_eq!(found("quota").await, [ids[1]]);
    assert_eq!(found("example.com").await, [carol, ids[1], ids[0]]);
    assert!(
        found("naïve").await.is_empty(),
        "a deleted job is not found"
    );
    assert_eq!(found("mailbox full").await, [ids[0]]);
}

//! Cron schedules in one process: a `#[job(cron = …)]` declared by the worker and
//! run at its ticks, run-time schedules with arguments, their control calls, bad
//! input, and a tick missed while no worker ran.

use std::time::Duration;

use kiribi::backend::NewSchedule;
use kiribi::chrono::{Datelike, TimeZone, Utc};
use kiribi::{Error, JobContext, JobFilter, JobRecord, JobStatus, Kiribi, ScheduleRecord, job};
use kiribi_tests::{TestDb, backend_tests, wait};

/// Every second, declared by every worker that links this test binary.
#[job(cron = "* * * * * *", queue = "cron")]
async fn every_second(ctx: JobContext) -> Result<i64, String> {
    Ok(ctx.id().as_i64())
}

#[job]
async fn cleanup(region: String) -> Result<String, String> {
    Ok(region)
}

#[job(name = "yearly_report")]
async fn yearly_report(year: i32) -> Result<i32, String> {
    Ok(year)
}

/// The jobs of schedule `name`, oldest first.
async fn jobs_of(kiribi: &Kiribi, job: &str, name: &str) -> Vec<JobRecord> {
    let mut jobs: Vec<JobRecord> = kiribi
        .jobs(JobFilter::new().name(job).limit(10_000))
        .await
        .unwrap()
        .into_iter()
        .filter(|record| record.schedule.as_deref() == Some(name))
        .collect();
    jobs.reverse();
    jobs
}

/// Schedule `name` as stored (every test's database also holds `every_second`,
/// declared by the workers of this binary).
async fn schedule(kiribi: &Kiribi, name: &str) -> Option<ScheduleRecord> {
    kiribi
        .schedules()
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.name == name)
}

/// Waits until schedule `name` has `count` jobs that succeeded.
async fn wait_for_succeeded(
    kiribi: &Kiribi,
    job: &str,
    name: &str,
    count: usize,
) -> Vec<JobRecord> {
    wait::until(
        &format!("{count} jobs of schedule `{name}` to succeed"),
        Duration::from_secs(30),
        || async {
            let jobs = jobs_of(kiribi, job, name).await;
            let done: Vec<JobRecord> = jobs
                .into_iter()
                .filter(|record| record.status == JobStatus::Succeeded)
                .collect();
            (done.len() >= count).then_some(done)
        },
    )
    .await
}

async fn a_declared_cron_job_is_registered_by_the_worker_and_runs_at_each_tick(db: TestDb) {
    let kiribi = db.connect().await;
    assert!(
        kiribi.schedules().await.unwrap().is_empty(),
        "declared by workers, not by connect"
    );
    let worker = kiribi.worker().start();
    let done = wait_for_succeeded(&kiribi, "every_second", "every_second", 2).await;
    worker.shutdown().await.unwrap();

    let declared = schedule(&kiribi, "every_second")
        .await
        .expect("the worker declared it");
    assert_eq!(
        (
            declared.job_name.as_str(),
            declared.cron.as_str(),
            declared.timezone.as_str()
        ),
        ("every_second", "* * * * * *", "UTC")
    );
    assert_eq!(declared.queue, "cron");
    assert!(!declared.paused);
    for job in &done {
        let tick = job.schedule_tick.expect("a tick job records its tick");
        assert_eq!(job.run_at, tick, "a tick job is due at its tick");
        assert_eq!(tick.timestamp_subsec_millis(), 0, "ticks are whole seconds");
        assert_eq!(job.queue, "cron");
        assert_eq!(job.result, Some(serde_json::json!(job.id.as_i64())));
    }
    assert!(done[0].schedule_tick < done[1].schedule_tick);
    assert!(declared.next_run_at > done[1].schedule_tick.unwrap());

    // A second start declares it again without moving its next tick back.
    let again = kiribi.worker().start();
    wait_for_succeeded(&kiribi, "every_second", "every_second", 3).await;
    again.shutdown().await.unwrap();
    let all = jobs_of(&kiribi, "every_second", "every_second").await;
    let mut ticks: Vec<_> = all.iter().map(|job| job.schedule_tick).collect();
    ticks.dedup();
    assert_eq!(ticks.len(), all.len(), "no tick twice");
}

async fn a_run_time_schedule_enqueues_its_arguments_and_is_controlled_by_name(db: TestDb) {
    let kiribi = db.connect().await;
    let saved = kiribi
        .schedule(
            "cleanup.eu",
            "* * * * * *",
            Cleanup {
                region: "eu".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (saved.name.as_str(), saved.job_name.as_str()),
        ("cleanup.eu", "cleanup")
    );
    assert_eq!(saved.payload, serde_json::json!({ "region": "eu" }));
    assert!(saved.next_run_at > Utc::now() - kiribi::chrono::TimeDelta::seconds(1));

    let worker = kiribi.worker().start();
    let done = wait_for_succeeded(&kiribi, "cleanup", "cleanup.eu", 1).await;
    assert_eq!(done[0].result, Some(serde_json::json!("eu")));
    assert!(done[0].schedule_tick.is_some());

    // Paused, it says so; run by hand, it enqueues a job of no tick.
    assert!(kiribi.pause_schedule("cleanup.eu").await.unwrap());
    assert!(schedule(&kiribi, "cleanup.eu").await.unwrap().paused);
    let by_hand = kiribi
        .run_schedule_now("cleanup.eu")
        .await
        .unwrap()
        .expect("the schedule exists");
    let record = kiribi_tests::wait_for_status(&kiribi, by_hand, JobStatus::Succeeded).await;
    assert_eq!(
        (record.schedule.as_deref(), record.schedule_tick),
        (Some("cleanup.eu"), None)
    );
    assert_eq!(
        schedule(&kiribi, "cleanup.eu").await.unwrap().last_job_id,
        Some(by_hand)
    );

    // Resumed, it ticks again from now on.
    let before = jobs_of(&kiribi, "cleanup", "cleanup.eu").await.len();
    assert!(kiribi.resume_schedule("cleanup.eu").await.unwrap());
    assert!(!schedule(&kiribi, "cleanup.eu").await.unwrap().paused);
    wait_for_succeeded(&kiribi, "cleanup", "cleanup.eu", before + 1).await;

    // Upsert by name: the same name updates the schedule.
    let updated = kiribi
        .schedule(
            "cleanup.eu",
            "0 3 * * *",
            Cleanup {
                region: "eu-west".into(),
            },
        )
        .timezone("Europe/Berlin")
        .priority(4)
        .await
        .unwrap();
    assert_eq!(schedule(&kiribi, "cleanup.eu").await, Some(updated.clone()));
    assert_eq!(updated.payload, serde_json::json!({ "region": "eu-west" }));
    assert_eq!(
        (updated.timezone.as_str(), updated.priority),
        ("Europe/Berlin", 4)
    );
    assert_eq!(updated.created_at, saved.created_at);

    assert!(kiribi.unschedule("cleanup.eu").await.unwrap());
    assert!(!kiribi.unschedule("cleanup.eu").await.unwrap());
    assert!(!kiribi.pause_schedule("cleanup.eu").await.unwrap());
    assert!(!kiribi.resume_schedule("cleanup.eu").await.unwrap());
    assert_eq!(kiribi.run_schedule_now("cleanup.eu").await.unwrap(), None);
    worker.shutdown().await.unwrap();
    // Its jobs stay.
    assert!(kiribi.job(by_hand).await.unwrap().is_some());
}

async fn bad_cron_or_time_zone_is_an_error_naming_the_field(db: TestDb) {
    let kiribi = db.connect().await;
    let job = || Cleanup {
        region: "eu".into(),
    };
    let err = kiribi.schedule("a", "0 3 * *", job()).await.unwrap_err();
    assert!(
        matches!(err, Error::InvalidOption { option: "cron", .. }),
        "{err}"
    );
    assert!(err.to_string().contains("`0 3 * *`"), "{err}");
    let err = kiribi
        .schedule("a", "0 3 * * *", job())
        .timezone("Europe/Berln")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::InvalidOption {
                option: "timezone",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("`Europe/Berln`"), "{err}");
    let err = kiribi.schedule(" ", "0 3 * * *", job()).await.unwrap_err();
    assert!(
        matches!(err, Error::InvalidOption { option: "name", .. }),
        "{err}"
    );
    assert!(
        kiribi.schedules().await.unwrap().is_empty(),
        "nothing was saved"
    );
}

async fn a_tick_missed_while_no_worker_ran_is_enqueued_once_when_one_comes_back(db: TestDb) {
    let kiribi = db.connect().await;
    // A yearly schedule whose next tick was three years ago: the processes were
    // down for the ticks of three new years.
    let now = Utc::now();
    let first_missed = Utc.with_ymd_and_hms(now.year() - 2, 1, 1, 0, 0, 0).unwrap();
    let latest = Utc.with_ymd_and_hms(now.year(), 1, 1, 0, 0, 0).unwrap();
    let yearly = NewSchedule::new("reports.yearly", "yearly_report", "@yearly", first_missed)
        .with_payload(serde_json::json!({ "year": now.year() }));
    kiribi.storage().upsert_schedule(&yearly).await.unwrap();

    let worker = kiribi.worker().start();
    let done = wait_for_succeeded(&kiribi, "yearly_report", "reports.yearly", 1).await;
    let stored = wait::until(
        "the schedule to move past now",
        Duration::from_secs(20),
        || async {
            let stored = kiribi
                .schedules()
                .await
                .unwrap()
                .into_iter()
                .find(|s| s.name == "reports.yearly")
                .unwrap();
            (stored.next_run_at > now).then_some(stored)
        },
    )
    .await;
    // The worker's next rounds find nothing more to enqueue.
    wait_for_succeeded(&kiribi, "every_second", "every_second", 2).await;
    worker.shutdown().await.unwrap();

    let jobs = jobs_of(&kiribi, "yearly_report", "reports.yearly").await;
    assert_eq!(jobs.len(), 1, "only the latest missed tick runs: {jobs:?}");
    assert_eq!(done[0].schedule_tick, Some(latest));
    assert_eq!(stored.last_run_at, Some(latest));
    assert_eq!(
        stored.next_run_at,
        Utc.with_ymd_and_hms(now.year() + 1, 1, 1, 0, 0, 0).unwrap()
    );
}

backend_tests!(
    a_declared_cron_job_is_registered_by_the_worker_and_runs_at_each_tick,
    a_run_time_schedule_enqueues_its_arguments_and_is_controlled_by_name,
    bad_cron_or_time_zone_is_an_error_naming_the_field,
    a_tick_missed_while_no_worker_ran_is_enqueued_once_when_one_comes_back,
);

//! Cron schedules: upsert by name, delete, pause, and a tick enqueued exactly once
//! however many callers race for it.
//!
//! The checks hand the backend fixed times (ticks are computed by kiribi, never by
//! the backend), so they compare only what the backend stored with what it was given.

use chrono::{DateTime, TimeZone, Utc};
use kiribi_core::backend::{NewJob, NewSchedule, ScheduleTick};
use kiribi_core::{JobFilter, JobId, ScheduleRecord, Storage};

use crate::claim::join_all;
use crate::get;

/// 2026-01-01 at `hour`:00 UTC: ticks of an hourly schedule.
fn hour(hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, hour, 0, 0)
        .single()
        .expect("a valid time")
}

fn hourly(name: &str, next_run_at: DateTime<Utc>) -> NewSchedule {
    NewSchedule::new(name, "report", "0 * * * *", next_run_at)
        .with_payload(serde_json::json!({ "team": name }))
        .with_queue("reports")
        .with_priority(3)
        .with_max_attempts(2)
}

fn report_job(name: &str) -> NewJob {
    NewJob::new("report", serde_json::json!({ "team": name }))
        .with_queue("reports")
        .with_priority(3)
        .with_max_attempts(2)
}

async fn schedule(storage: &dyn Storage, name: &str) -> Option<ScheduleRecord> {
    storage
        .schedules()
        .await
        .expect("schedules")
        .into_iter()
        .find(|record| record.name == name)
}

async fn jobs_of(storage: &dyn Storage, name: &str) -> usize {
    storage
        .list(&JobFilter::new().name("report").limit(1000))
        .await
        .expect("list")
        .into_iter()
        .filter(|job| job.schedule.as_deref() == Some(name))
        .count()
}

/// `upsert_schedule` inserts a schedule, then updates the one of the same name:
/// everything is replaced, but the next tick stays while the cron and time zone do
/// not change (so a process declaring its schedules at every start loses no tick),
/// and `paused: None` keeps the stored state.
pub async fn upsert_schedule_inserts_then_updates_by_name(storage: &dyn Storage) {
    let record = storage
        .upsert_schedule(&hourly("eu", hour(1)))
        .await
        .expect("insert");
    assert_eq!(
        (record.name.as_str(), record.job_name.as_str()),
        ("eu", "report")
    );
    assert_eq!(
        (record.cron.as_str(), record.timezone.as_str()),
        ("0 * * * *", "UTC")
    );
    assert_eq!(record.payload, serde_json::json!({ "team": "eu" }));
    assert_eq!(
        (record.queue.as_str(), record.priority, record.max_attempts),
        ("reports", 3, 2)
    );
    assert_eq!(record.next_run_at, hour(1));
    assert!(!record.paused);
    assert_eq!((record.last_run_at, record.last_job_id), (None, None));
    assert_eq!(schedule(storage, "eu").await, Some(record.clone()));

    // Declared again at a later start, with a later first tick: the next tick stays.
    let again = storage
        .upsert_schedule(
            &hourly("eu", hour(5))
                .with_payload(serde_json::json!({ "team": "eu", "v": 2 }))
                .with_priority(7),
        )
        .await
        .expect("update");
    assert_eq!(again.next_run_at, hour(1), "same cron: the next tick stays");
    assert_eq!(again.payload, serde_json::json!({ "team": "eu", "v": 2 }));
    assert_eq!(again.priority, 7);
    assert_eq!(again.created_at, record.created_at);

    // Another cron or time zone: the next tick is the new one.
    let changed = storage
        .upsert_schedule(&NewSchedule::new("eu", "report", "30 * * * *", hour(6)))
        .await
        .expect("update the cron");
    assert_eq!(changed.next_run_at, hour(6));
    let zoned = storage
        .upsert_schedule(
            &NewSchedule::new("eu", "report", "30 * * * *", hour(7)).with_timezone("Asia/Tokyo"),
        )
        .await
        .expect("update the time zone");
    assert_eq!(
        (zoned.timezone.as_str(), zoned.next_run_at),
        ("Asia/Tokyo", hour(7))
    );

    // Paused stays paused when an upsert says nothing about it; resuming through an
    // upsert takes the new next tick (ticks missed while paused are skipped).
    let paused = storage
        .upsert_schedule(&hourly("us", hour(1)).with_paused(Some(true)))
        .await
        .expect("insert paused");
    assert!(paused.paused);
    let kept = storage
        .upsert_schedule(&hourly("us", hour(2)))
        .await
        .expect("update");
    assert!(kept.paused, "`None` keeps the stored state");
    assert_eq!(kept.next_run_at, hour(1));
    let resumed = storage
        .upsert_schedule(&hourly("us", hour(3)).with_paused(Some(false)))
        .await
        .expect("resume");
    assert!(!resumed.paused);
    assert_eq!(resumed.next_run_at, hour(3));

    let names: Vec<String> = storage
        .schedules()
        .await
        .expect("schedules")
        .into_iter()
        .map(|record| record.name)
        .collect();
    assert_eq!(names, ["eu", "us"], "one row per name, by name");
}

/// `delete_schedule` removes a schedule (`false` for an unknown one); its jobs stay,
/// and it enqueues no more ticks.
pub async fn delete_schedule_removes_it_and_keeps_its_jobs(storage: &dyn Storage) {
    storage
        .upsert_schedule(&hourly("eu", hour(1)))
        .await
        .expect("insert");
    let tick = ScheduleTick::due("eu", report_job("eu"), hour(1), hour(1), hour(2))
        .expect("times in order");
    let id = storage
        .enqueue_tick(&tick)
        .await
        .expect("tick")
        .expect("enqueued");
    assert!(storage.delete_schedule("eu").await.expect("delete"));
    assert!(!storage.delete_schedule("eu").await.expect("delete again"));
    assert!(
        !storage
            .delete_schedule("nope")
            .await
            .expect("delete unknown")
    );
    assert_eq!(schedule(storage, "eu").await, None);
    assert_eq!(get(storage, id).await.schedule.as_deref(), Some("eu"));

    let next = ScheduleTick::due("eu", report_job("eu"), hour(2), hour(2), hour(3))
        .expect("times in order");
    assert_eq!(storage.enqueue_tick(&next).await.expect("tick"), None);
    let by_hand = ScheduleTick::now("eu", report_job("eu"));
    assert_eq!(storage.enqueue_tick(&by_hand).await.expect("run now"), None);
    assert_eq!(jobs_of(storage, "eu").await, 1);
}

/// A paused schedule enqueues no tick; resuming sets its next tick; a run by hand
/// enqueues whether paused or not and moves no tick.
pub async fn a_paused_schedule_enqueues_no_tick(storage: &dyn Storage) {
    storage
        .upsert_schedule(&hourly("eu", hour(1)))
        .await
        .expect("insert");
    assert!(
        storage
            .set_schedule_paused("eu", true, None)
            .await
            .expect("pause")
    );
    assert!(schedule(storage, "eu").await.expect("stored").paused);
    let tick = ScheduleTick::due("eu", report_job("eu"), hour(1), hour(1), hour(2))
        .expect("times in order");
    assert_eq!(storage.enqueue_tick(&tick).await.expect("tick"), None);
    assert_eq!(jobs_of(storage, "eu").await, 0);

    let by_hand = storage
        .enqueue_tick(&ScheduleTick::now("eu", report_job("eu")))
        .await
        .expect("run now")
        .expect("enqueued while paused");
    let job = get(storage, by_hand).await;
    assert_eq!(
        (job.schedule.as_deref(), job.schedule_tick),
        (Some("eu"), None)
    );
    let stored = schedule(storage, "eu").await.expect("stored");
    assert_eq!(stored.next_run_at, hour(1), "a run by hand moves no tick");
    assert_eq!(stored.last_job_id, Some(by_hand));

    assert!(
        storage
            .set_schedule_paused("eu", false, Some(hour(4)))
            .await
            .expect("resume")
    );
    let stored = schedule(storage, "eu").await.expect("stored");
    assert_eq!((stored.paused, stored.next_run_at), (false, hour(4)));
    // The tick read before the pause is stale now.
    assert_eq!(storage.enqueue_tick(&tick).await.expect("stale tick"), None);
    let tick = ScheduleTick::due("eu", report_job("eu"), hour(4), hour(4), hour(5))
        .expect("times in order");
    assert!(storage.enqueue_tick(&tick).await.expect("tick").is_some());
    assert!(
        !storage
            .set_schedule_paused("nope", true, None)
            .await
            .expect("unknown")
    );
}

/// After ticks were missed, the caller hands over the latest one: it is enqueued
/// once, the schedule moves past every missed tick, and a caller that still
/// offers an older one changes nothing.
pub async fn missed_ticks_collapse_to_the_latest(storage: &dyn Storage) {
    storage
        .upsert_schedule(&hourly("eu", hour(1)))
        .await
        .expect("insert");
    // Down from before 01:00 to 04:10: only 04:00 is enqueued.
    let latest = ScheduleTick::due("eu", report_job("eu"), hour(1), hour(4), hour(5))
        .expect("times in order");
    let id = storage
        .enqueue_tick(&latest)
        .await
        .expect("tick")
        .expect("enqueued");
    for (expected, tick, next) in [(1, 1, 2), (2, 2, 3), (1, 3, 4), (4, 4, 5)] {
        let older = ScheduleTick::due(
            "eu",
            report_job("eu"),
            hour(expected),
            hour(tick),
            hour(next),
        )
        .expect("times in order");
        assert_eq!(
            storage.enqueue_tick(&older).await.expect("older tick"),
            None,
            "{expected}:00 is no longer the next tick"
        );
    }
    assert_eq!(jobs_of(storage, "eu").await, 1);
    let job = get(storage, id).await;
    assert_eq!(job.schedule_tick, Some(hour(4)));
    assert_eq!(job.run_at, hour(4), "the job runs at its tick");
    let stored = schedule(storage, "eu").await.expect("stored");
    assert_eq!(stored.next_run_at, hour(5));
    assert_eq!(stored.last_run_at, Some(hour(4)));
    assert_eq!(stored.last_job_id, Some(id));
}

/// Many callers on two independent handles (as processes would be) race for each
/// tick: exactly one enqueues it, and the job records the schedule and the tick.
pub async fn a_tick_is_enqueued_once_by_concurrent_callers(
    first: &dyn Storage,
    second: &dyn Storage,
) {
    const CALLERS: usize = 8;
    const TICKS: u32 = 5;
    first
        .upsert_schedule(&hourly("eu", hour(1)))
        .await
        .expect("insert");
    // The other handle declares it too, at its own start.
    second
        .upsert_schedule(&hourly("eu", hour(2)))
        .await
        .expect("declare again");
    let mut enqueued: Vec<JobId> = Vec::new();
    for n in 1..=TICKS {
        let tick = ScheduleTick::due("eu", report_job("eu"), hour(n), hour(n), hour(n + 1))
            .expect("times in order");
        let callers = (0..CALLERS)
            .map(|caller| {
                let storage = if caller % 2 == 0 { first } else { second };
                let tick = tick.clone();
                async move { storage.enqueue_tick(&tick).await.expect("tick") }
            })
            .collect();
        let won: Vec<JobId> = join_all(callers).await.into_iter().flatten().collect();
        assert_eq!(
            won.len(),
            1,
            "tick {n}:00 must be enqueued by exactly one caller"
        );
        let job = get(second, won[0]).await;
        assert_eq!(job.schedule.as_deref(), Some("eu"));
        assert_eq!(job.schedule_tick, Some(hour(n)));
        assert_eq!(job.name, "report");
        assert_eq!(job.payload, serde_json::json!({ "team": "eu" }));
        assert_eq!(
            (job.queue.as_str(), job.priority, job.max_attempts),
            ("reports", 3, 2)
        );
        enqueued.push(won[0]);
    }
    assert_eq!(jobs_of(first, "eu").await, TICKS as usize);
    let stored = schedule(second, "eu").await.expect("stored");
    assert_eq!(stored.next_run_at, hour(TICKS + 1));
    assert_eq!(stored.last_run_at, Some(hour(TICKS)));
    assert_eq!(stored.last_job_id, enqueued.last().copied());
}

//! The trait bounds DESIGN.md promises, checked at compile time, and the small types'
//! behaviour.

use std::collections::HashSet;
use std::future::IntoFuture;
use std::time::Duration;

use kiribi::{
    EnqueueOptions, Error, Flow, FlowFilter, FlowId, FlowRecord, FlowStatus, JobContext, JobFilter,
    JobId, JobRecord, JobStatus, Kiribi, ScheduleRecord, WorkerHandle, job,
};
use kiribi_tests::TestDb;

#[job]
async fn bounds_probe(n: u8) -> Result<u8, String> {
    Ok(n)
}

fn send<T: Send>(value: T) -> T {
    value
}
fn clone_send_sync<T: Clone + Send + Sync>() {}
fn send_static<T: Send + 'static>() {}
fn std_error<T: std::error::Error + Send + Sync + 'static>() {}
fn copy_eq_hash<T: Copy + Eq + std::hash::Hash + std::fmt::Debug + std::fmt::Display>() {}

#[test]
fn handles_and_errors_have_the_promised_bounds() {
    clone_send_sync::<Kiribi>();
    clone_send_sync::<JobContext>();
    send_static::<WorkerHandle>();
    std_error::<Error>();
    copy_eq_hash::<JobId>();
    copy_eq_hash::<FlowId>();
    fn copy_eq_debug<T: Copy + Eq + std::fmt::Debug>() {}
    copy_eq_debug::<JobStatus>();
    copy_eq_debug::<FlowStatus>();
    fn clone_debug<T: Clone + std::fmt::Debug>() {}
    clone_debug::<JobRecord>();
    clone_debug::<ScheduleRecord>();
    clone_debug::<kiribi::LogLine>();
    copy_eq_debug::<kiribi::LogLevel>();
    fn layer<L: tracing_subscriber::Layer<tracing_subscriber::Registry> + Clone + Send + Sync>() {}
    layer::<kiribi::LogLayer>();
    clone_debug::<FlowRecord>();
    send_static::<Flow>();
}

#[tokio::test]
async fn every_future_kiribi_returns_is_send() {
    let db = TestDb::sqlite();
    let kiribi = send(Kiribi::connect(db.url())).await.unwrap();
    let id = send(BoundsProbe::enqueue(&kiribi, BoundsProbe { n: 1 }))
        .await
        .unwrap();
    send(BoundsProbe::enqueue_with(
        &kiribi,
        BoundsProbe { n: 2 },
        EnqueueOptions::new(),
    ))
    .await
    .unwrap();
    send(BoundsProbe::enqueue_many(
        &kiribi,
        vec![BoundsProbe { n: 3 }],
    ))
    .await
    .unwrap();
    send(BoundsProbe::run_now(&kiribi, BoundsProbe { n: 4 }))
        .await
        .unwrap();
    send(kiribi.job(id)).await.unwrap();
    send(kiribi.jobs(JobFilter::new())).await.unwrap();
    send(kiribi.attempts(id)).await.unwrap();
    send(kiribi.logs(id)).await.unwrap();
    send(kiribi.cancel(id)).await.unwrap();
    send(kiribi.retry(id)).await.unwrap();
    send(kiribi.delete(id)).await.unwrap();
    send(
        kiribi
            .schedule("probe", "0 3 * * *", BoundsProbe { n: 5 })
            .into_future(),
    )
    .await
    .unwrap();
    send(kiribi.schedules()).await.unwrap();
    send(kiribi.pause_schedule("probe")).await.unwrap();
    send(kiribi.resume_schedule("probe")).await.unwrap();
    send(kiribi.run_schedule_now("probe")).await.unwrap();
    send(kiribi.unschedule("probe")).await.unwrap();
    let flow = send(
        Flow::new("probe")
            .step("a", BoundsProbe { n: 6 })
            .step_after("b", BoundsProbe { n: 7 }, ["a"])
            .enqueue(&kiribi),
    )
    .await
    .unwrap();
    send(kiribi.flow(flow)).await.unwrap();
    send(kiribi.flows(FlowFilter::new())).await.unwrap();
    send(kiribi.cancel_flow(flow)).await.unwrap();
    let worker = kiribi
        .worker()
        .poll_interval(Duration::from_millis(20))
        .start();
    send(worker.shutdown()).await.unwrap();
}

#[test]
fn job_ids_print_parse_and_serialize_as_numbers() {
    let id: JobId = "17".parse().unwrap();
    assert_eq!(id.to_string(), "17");
    assert_eq!(serde_json::to_string(&id).unwrap(), "17");
    assert_eq!(serde_json::from_str::<JobId>("17").unwrap(), id);
    let err = "x17".parse::<JobId>().unwrap_err().to_string();
    assert!(err.contains("`x17`"), "{err}");
    assert_eq!(HashSet::from([id, id]).len(), 1);
}

#[test]
fn flow_ids_and_statuses_print_parse_and_serialize() {
    let id: FlowId = "5".parse().unwrap();
    assert_eq!(
        (id.to_string(), serde_json::to_string(&id).unwrap()),
        ("5".into(), "5".into())
    );
    assert!(
        "x".parse::<FlowId>()
            .unwrap_err()
            .to_string()
            .contains("`x`")
    );
    for status in FlowStatus::ALL {
        let json = serde_json::to_value(status).unwrap();
        assert_eq!(json, serde_json::json!(status.as_str()));
        assert_eq!(status.to_string().parse::<FlowStatus>().unwrap(), status);
    }
    assert_eq!(JobStatus::Blocked.as_str(), "blocked");
    assert!(!JobStatus::Blocked.is_finished());
    assert_eq!("blocked".parse::<JobStatus>().unwrap(), JobStatus::Blocked);
}

#[tokio::test]
async fn sqlite_url_in_a_missing_directory_names_the_path() {
    let db = TestDb::sqlite();
    let missing = db.dir().join("no/such/dir/jobs.db");
    let err = Kiribi::connect(&format!("sqlite://{}", missing.display()))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::MissingDirectory { .. }), "{err:?}");
    assert!(err.to_string().contains("no/such/dir"), "{err}");
}

#[tokio::test]
async fn unsupported_scheme_lists_the_enabled_backends() {
    let err = Kiribi::connect("mysql://localhost/jobs").await.unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("`mysql:`") && message.contains("sqlite"),
        "{message}"
    );
}

#[tokio::test]
async fn postgres_urls_work_with_either_scheme() {
    let db = TestDb::postgres().await;
    for url in [
        db.url().to_owned(),
        db.url().replacen("postgres://", "postgresql://", 1),
    ] {
        let kiribi = Kiribi::connect(&url).await.unwrap();
        assert!(
            kiribi.pg_pool().is_some() && kiribi.sqlite_pool().is_none(),
            "{url}"
        );
    }
}

#[tokio::test]
async fn missing_postgres_database_is_named_in_the_error() {
    let server = kiribi_tests::pg::server_url().await;
    let url = kiribi_tests::pg::with_database(&server, "kiribi_no_such_database");
    let err = Kiribi::connect(&url).await.unwrap_err();
    assert!(err.to_string().contains("kiribi_no_such_database"), "{err}");
}

//! `LISTEN`/`NOTIFY` wake-ups: inserts by other connections, transactions, retries,
//! and a listener whose connection is killed.

mod common;

use std::time::Duration;

use common::{SchemaGuard, connection, connection_in};
use kiribi_core::Storage;
use kiribi_core::backend::{Listener, NewJob, Outcome};
use kiribi_postgres::enqueue_on;
use sqlx::Connection;

/// How long a test waits for a wake-up that must come.
const DEADLINE: Duration = Duration::from_secs(10);
/// How long a test watches for a wake-up that must not come.
const QUIET: Duration = Duration::from_millis(300);

async fn listener(storage: &kiribi_postgres::PgStorage) -> Box<dyn Listener> {
    storage
        .listen()
        .await
        .unwrap()
        .expect("postgres listens by default")
}

async fn wakes(listener: &mut Box<dyn Listener>) {
    match tokio::time::timeout(DEADLINE, listener.recv()).await {
        Ok(result) => result.expect("the listener reports no error"),
        Err(_) => panic!("no wake-up within {DEADLINE:?}"),
    }
}

async fn stays_quiet(listener: &mut Box<dyn Listener>) {
    if let Ok(result) = tokio::time::timeout(QUIET, listener.recv()).await {
        panic!("unexpected wake-up: {result:?}");
    }
}

fn job(name: &str) -> NewJob {
    NewJob::new(name, serde_json::json!({}))
}

#[tokio::test]
async fn listener_wakes_when_another_connection_inserts() {
    let schema = SchemaGuard::new("wake");
    let storage = schema.storage().await;
    let mut listener = listener(&storage).await;

    // Another storage: another pool, as another process would have.
    let other = schema.storage().await;
    kiribi_conformance::enqueue(&other, vec![job("a"), job("b")]).await;
    wakes(&mut listener).await;

    // A plain connection of the application, through `enqueue_on`.
    let mut conn = connection_in(&schema.name).await;
    kiribi_conformance::ids(enqueue_on(&mut conn, vec![job("c")]).await.unwrap());
    wakes(&mut listener).await;
}

#[tokio::test]
async fn a_transactional_insert_wakes_only_when_it_commits() {
    let schema = SchemaGuard::new("txwake");
    let storage = schema.storage().await;
    let mut listener = listener(&storage).await;

    let mut tx = storage.pool().begin().await.unwrap();
    kiribi_conformance::ids(enqueue_on(&mut tx, vec![job("rolled_back")]).await.unwrap());
    stays_quiet(&mut listener).await;
    tx.rollback().await.unwrap();
    stays_quiet(&mut listener).await;

    let mut tx = storage.pool().begin().await.unwrap();
    kiribi_conformance::ids(enqueue_on(&mut tx, vec![job("committed")]).await.unwrap());
    stays_quiet(&mut listener).await;
    tx.commit().await.unwrap();
    wakes(&mut listener).await;
}

#[tokio::test]
async fn listeners_of_another_schema_are_not_woken() {
    let first = SchemaGuard::new("chan_a");
    let second = SchemaGuard::new("chan_b");
    let storage = first.storage().await;
    let other = second.storage().await;
    let mut listener = listener(&storage).await;
    kiribi_conformance::enqueue(&other, vec![job("elsewhere")]).await;
    stays_quiet(&mut listener).await;
}

#[tokio::test]
async fn retrying_a_failed_job_wakes_the_listener() {
    let schema = SchemaGuard::new("retrywake");
    let storage = schema.storage().await;
    let claimed = storage
        .enqueue_running(
            job("flaky"),
            &kiribi_core::backend::WorkerId::new("inline"),
            Duration::from_secs(30),
        )
        .await
        .unwrap();
    assert!(
        kiribi_conformance::complete(&storage, claimed.lease.clone(), Outcome::failed("boom"))
            .await
            .unwrap()
    );
    let mut listener = listener(&storage).await;
    assert!(storage.retry(claimed.id()).await.unwrap());
    wakes(&mut listener).await;
}

#[tokio::test]
async fn listener_recovers_after_its_connection_is_killed() {
    let schema = SchemaGuard::new("killed");
    let storage = schema.storage().await;
    let mut listener = listener(&storage).await;

    let mut admin = connection().await;
    let application_name = format!("kiribi-listener:{}", schema.name);
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
    )
    .bind(&application_name)
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert_eq!(killed, [true], "exactly the listener's backend is killed");

    // The lost connection is reported as one wake-up, once the listener is back.
    wakes(&mut listener).await;
    let listening: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1")
            .bind(&application_name)
            .fetch_one(&mut admin)
            .await
            .unwrap();
    assert_eq!(listening, 1, "the listener reconnected");

    // It was listening again before it reported the wake-up: the next insert is heard.
    kiribi_conformance::enqueue(&storage, vec![job("after_kill")]).await;
    wakes(&mut listener).await;
    admin.close().await.unwrap();
}

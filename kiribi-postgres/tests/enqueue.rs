//! Enqueueing: through a caller's transaction, and large batches in one statement.

mod common;

use std::time::Duration;

use chrono::Utc;
use common::{SchemaGuard, connection_in};
use kiribi_core::backend::NewJob;
use kiribi_core::{JobFilter, JobStatus, Storage};
use kiribi_postgres::enqueue_on;
use sqlx::Connection;

#[tokio::test]
async fn enqueue_on_a_rolled_back_transaction_leaves_nothing() {
    let schema = SchemaGuard::new("rollback");
    let storage = schema.storage().await;
    let mut tx = storage.pool().begin().await.unwrap();
    let ids = kiribi_conformance::ids(
        enqueue_on(
            &mut tx,
            vec![
                NewJob::new("a", serde_json::json!(1)),
                NewJob::new("b", serde_json::json!(2)),
            ],
        )
        .await
        .unwrap(),
    );
    assert_eq!(ids.len(), 2);
    tx.rollback().await.unwrap();
    for id in ids {
        assert!(storage.get(id).await.unwrap().is_none());
    }
    assert!(storage.list(&JobFilter::new()).await.unwrap().is_empty());
}

#[tokio::test]
async fn enqueue_on_a_committed_transaction_keeps_the_jobs() {
    let schema = SchemaGuard::new("commit");
    let storage = schema.storage().await;
    let mut tx = storage.pool().begin().await.unwrap();
    let ids = kiribi_conformance::ids(
        enqueue_on(
            &mut tx,
            vec![NewJob::new("a", serde_json::json!({ "k": "v" }))],
        )
        .await
        .unwrap(),
    );
    tx.commit().await.unwrap();
    let record = storage.get(ids[0]).await.unwrap().unwrap();
    assert_eq!(record.status, JobStatus::Pending);
    assert_eq!(record.attempts, 0);
    assert_eq!(record.payload, serde_json::json!({ "k": "v" }));
}

#[tokio::test]
async fn enqueue_on_a_plain_connection_of_the_application() {
    let schema = SchemaGuard::new("plain");
    let storage = schema.storage().await;
    let mut conn = connection_in(&schema.name).await;
    let ids = kiribi_conformance::ids(
        enqueue_on(&mut conn, vec![NewJob::new("a", serde_json::json!(null))])
            .await
            .unwrap(),
    );
    conn.close().await.unwrap();
    assert!(storage.get(ids[0]).await.unwrap().is_some());
    assert!(
        kiribi_conformance::ids(
            enqueue_on(&mut connection_in(&schema.name).await, Vec::new())
                .await
                .unwrap()
        )
        .is_empty()
    );
}

#[tokio::test]
async fn a_large_batch_is_one_statement_and_ids_come_back_in_input_order() {
    const JOBS: usize = 5_000;
    let schema = SchemaGuard::new("batch");
    let storage = schema.storage().await;

    // Count INSERT statements on the job table with a statement-level trigger.
    let mut conn = connection_in(&schema.name).await;
    sqlx::raw_sql(
        "CREATE TABLE insert_statements (n INT NOT NULL); \
         INSERT INTO insert_statements VALUES (0); \
         CREATE FUNCTION count_insert_statements() RETURNS trigger LANGUAGE plpgsql AS $$ \
         BEGIN UPDATE insert_statements SET n = n + 1; RETURN NULL; END $$; \
         CREATE TRIGGER count_inserts AFTER INSERT ON kiribi_jobs \
         FOR EACH STATEMENT EXECUTE FUNCTION count_insert_statements();",
    )
    .execute(&mut conn)
    .await
    .unwrap();

    let jobs: Vec<NewJob> = (0..JOBS)
        .map(|n| {
            let mut job = NewJob::new(format!("job_{}", n % 7), serde_json::json!({ "n": n }));
            job.priority = i32::try_from(n % 5).unwrap();
            job
        })
        .collect();
    let ids = kiribi_conformance::enqueue(&storage, jobs).await;
    assert_eq!(ids.len(), JOBS);
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "ids increase with input order"
    );

    let statements: i32 = sqlx::query_scalar("SELECT n FROM insert_statements")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(statements, 1);

    let rows: Vec<(i64, i64)> =
        sqlx::query_as("SELECT id, (payload->>'n')::int8 FROM kiribi_jobs ORDER BY id")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert_eq!(rows.len(), JOBS);
    for (index, (id, n)) in rows.iter().enumerate() {
        assert_eq!(ids[index].as_i64(), *id);
        assert_eq!(usize::try_from(*n).unwrap(), index);
    }
}

#[tokio::test]
async fn delays_and_run_at_use_the_database_clock() {
    let schema = SchemaGuard::new("delay");
    let storage = schema.storage().await;
    let mut later = NewJob::new("later", serde_json::json!(null));
    later.delay = Duration::from_secs(3600);
    let mut at = NewJob::new("at", serde_json::json!(null));
    let when = Utc::now() + chrono::Duration::days(2);
    at.run_at = Some(when);
    let mut forever = NewJob::new("forever", serde_json::json!(null));
    forever.delay = Duration::MAX;
    let ids = kiribi_conformance::enqueue(&storage, vec![later, at, forever]).await;

    let later = storage.get(ids[0]).await.unwrap().unwrap();
    let gap = later.run_at - later.created_at;
    assert_eq!(gap, chrono::Duration::seconds(3600));
    let at = storage.get(ids[1]).await.unwrap().unwrap();
    assert_eq!(at.run_at.timestamp_micros(), when.timestamp_micros());
    let forever = storage.get(ids[2]).await.unwrap().unwrap();
    assert!(forever.run_at > Utc::now() + chrono::Duration::days(365 * 50));
}

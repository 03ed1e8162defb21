//! A handle that does not migrate (a dashboard, a CLI, a web process when a deploy
//! step migrates) refuses a database that is not migrated, changes nothing in it,
//! and works once another connection migrated it.

use kiribi::postgres::{PgStorage, PgStorageOptions};
use kiribi::sqlx::{self, Connection, PgConnection};
use kiribi::{Error, JobStatus, Kiribi, job};
use kiribi_tests::{Backend, TestDb};

#[job]
async fn noop(n: u32) -> Result<u32, String> {
    Ok(n)
}

/// How many tables whose name starts with `kiribi` the PostgreSQL database has.
async fn kiribi_tables(url: &str) -> i64 {
    let mut conn = PgConnection::connect(url).await.unwrap();
    sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_name LIKE 'kiribi%'",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap()
}

async fn a_handle_that_does_not_migrate_refuses_a_fresh_database_then_works_once_migrated(
    db: TestDb,
) {
    let refused = Kiribi::builder()
        .migrate(false)
        .connect(db.url())
        .await
        .unwrap_err();
    match db.backend() {
        Backend::Sqlite => {
            let file = db.dir().join("jobs.db");
            assert!(
                matches!(&refused, Error::MissingDatabaseFile { path } if *path == file),
                "{refused:?}"
            );
            let created: Vec<_> = std::fs::read_dir(db.dir()).unwrap().collect();
            assert!(created.is_empty(), "no file is created: {created:?}");
        }
        Backend::Postgres => {
            assert!(
                matches!(&refused, Error::SchemaOutdated { found: 0, .. }),
                "{refused:?}"
            );
            assert_eq!(kiribi_tables(db.url()).await, 0, "no table is created");
        }
    }
    let message = refused.to_string();
    assert!(message.contains("migrat"), "it says what to run: {message}");

    // The deploy step migrates; then the handle that does not migrate connects.
    db.connect().await;
    let reader = Kiribi::builder()
        .migrate(false)
        .connect(db.url())
        .await
        .unwrap();
    let id = Noop::enqueue(&reader, Noop { n: 1 }).await.unwrap();
    let record = reader.job(id).await.unwrap().unwrap();
    assert_eq!((record.status, record.attempts), (JobStatus::Pending, 0));
}

kiribi_tests::backend_tests!(
    a_handle_that_does_not_migrate_refuses_a_fresh_database_then_works_once_migrated
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_handle_that_does_not_migrate_refuses_a_fresh_schema_and_creates_nothing() {
    let db = TestDb::postgres().await;
    // The database is migrated, but in another schema.
    db.connect().await;
    let options = PgStorageOptions::from_url(db.url())
        .unwrap()
        .schema("not_migrated")
        .migrate(false);
    let refused = PgStorage::connect_with(options).await.unwrap_err();
    assert!(
        matches!(&refused, Error::SchemaOutdated { found: 0, .. }),
        "{refused:?}"
    );
    let mut conn = PgConnection::connect(db.url()).await.unwrap();
    let schemas: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_namespace WHERE nspname = 'not_migrated'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(schemas, 0, "the schema is not created");
}

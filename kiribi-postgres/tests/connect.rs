//! Opening a database: URLs, missing databases, schemas and migrations.

mod common;

use common::{SchemaGuard, connection, url};
use kiribi_core::backend::NewJob;
use kiribi_core::{Error, JobFilter, Storage};
use kiribi_postgres::{PgStorage, PgStorageOptions};

/// Every migration this kiribi has, oldest first.
const MIGRATIONS: [i64; 13] = [
    20261129000000,
    20261129120000,
    20261129180000,
    20261201000000,
    20261202000000,
    20261202100000,
    20261202200000,
    20261202210000,
    20261202300000,
    20261203000000,
    20261203100000,
    20261205000000,
    20261205100000,
];

async fn applied_migrations(schema: &str) -> Vec<i64> {
    let mut conn = connection().await;
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT version FROM \"{schema}\".kiribi_migrations ORDER BY version"
    )))
    .fetch_all(&mut conn)
    .await
    .unwrap()
}

#[tokio::test]
async fn connect_creates_the_schema_and_migrates_it() {
    let schema = SchemaGuard::new("create");
    let storage = schema.storage().await;
    assert_eq!(storage.backend(), "postgres");
    assert_eq!(storage.schema(), schema.name);

    let mut conn = connection().await;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = $1 ORDER BY table_name",
    )
    .bind(&schema.name)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        tables,
        [
            "kiribi_attempts",
            "kiribi_flows",
            "kiribi_job_deps",
            "kiribi_job_traces",
            "kiribi_jobs",
            "kiribi_logs",
            "kiribi_migrations",
            "kiribi_queues",
            "kiribi_rate_starts",
            "kiribi_rollup_state",
            "kiribi_rollups",
            "kiribi_schedules"
        ]
    );
    assert_eq!(applied_migrations(&schema.name).await, MIGRATIONS);

    let ids = kiribi_conformance::enqueue(
        &storage,
        vec![NewJob::new("a", serde_json::json!({ "n": 1 }))],
    )
    .await;
    let record = storage.get(ids[0]).await.unwrap().unwrap();
    assert_eq!(record.payload, serde_json::json!({ "n": 1 }));
}

#[tokio::test]
async fn connecting_again_does_not_migrate_again() {
    let schema = SchemaGuard::new("again");
    let first = schema.storage().await;
    kiribi_conformance::enqueue(&first, vec![NewJob::new("kept", serde_json::json!(null))]).await;
    let second = schema.storage().await;
    assert_eq!(applied_migrations(&schema.name).await, MIGRATIONS);
    assert_eq!(second.list(&JobFilter::new()).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_connects_to_a_new_schema_all_succeed() {
    let schema = SchemaGuard::new("herd");
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..12 {
        let options = schema.options().max_connections(1);
        tasks.spawn(async move { PgStorage::connect_with(options).await });
    }
    while let Some(joined) = tasks.join_next().await {
        let storage = joined.unwrap().expect("every concurrent connect succeeds");
        kiribi_conformance::enqueue(&storage, vec![NewJob::new("herd", serde_json::json!(null))])
            .await;
    }
    assert_eq!(applied_migrations(&schema.name).await, MIGRATIONS);
}

#[tokio::test]
async fn a_schema_migrated_by_a_newer_kiribi_is_refused_and_left_alone() {
    let schema = SchemaGuard::new("newer");
    schema.storage().await;
    let newer = 20991231000000_i64;
    let mut conn = connection().await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO \"{}\".kiribi_migrations (version, description) VALUES ($1, 'from the future')",
        schema.name
    )))
    .bind(newer)
    .execute(&mut conn)
    .await
    .unwrap();

    match PgStorage::connect_with(schema.options()).await {
        Err(Error::SchemaTooNew {
            backend,
            found,
            supported,
        }) => {
            assert_eq!(backend, "postgres");
            assert_eq!(found, newer);
            assert_eq!(Some(&supported), MIGRATIONS.last());
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
    assert_eq!(
        applied_migrations(&schema.name).await,
        [&MIGRATIONS[..], &[newer]].concat()
    );
}

#[tokio::test]
async fn a_schema_of_an_older_kiribi_is_migrated_and_keeps_its_jobs() {
    let schema = SchemaGuard::new("older");
    let mut conn = connection().await;
    // The schema as the first release of kiribi left it, with one waiting job.
    let first = include_str!("../migrations/20261129000000_create_jobs.sql");
    let setup = format!(
        "CREATE SCHEMA \"{name}\"; SET search_path TO \"{name}\"; {first}; \
         CREATE TABLE kiribi_migrations (version BIGINT PRIMARY KEY, \
             description TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now()); \
         INSERT INTO kiribi_migrations (version, description) VALUES ({v1}, 'create jobs'); \
         INSERT INTO kiribi_jobs (name, queue, status, priority, max_attempts, payload, \
             created_at, run_at) VALUES ('a', 'default', 'pending', 0, 5, '{{}}', now(), now()); \
         RESET search_path",
        name = schema.name,
        v1 = MIGRATIONS[0],
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(setup))
        .execute(&mut conn)
        .await
        .unwrap();

    let storage = schema.storage().await;
    assert_eq!(applied_migrations(&schema.name).await, MIGRATIONS);
    let claimed = storage
        .claim(
            &kiribi_core::backend::ClaimRequest::new(
                kiribi_core::backend::WorkerId::new("w"),
                std::time::Duration::from_secs(60),
            )
            .with_names(["a"])
            .with_limit(10),
        )
        .await
        .unwrap();
    assert_eq!(
        claimed.len(),
        1,
        "the job from before the upgrade is claimed"
    );
    // A job running on the upgraded schema can be asked to stop.
    let running = claimed[0].id();
    assert!(storage.cancel(running).await.unwrap());
    let owner = kiribi_core::backend::WorkerId::new("w");
    assert_eq!(
        storage.cancel_requests(&owner).await.unwrap(),
        vec![running]
    );
}

#[tokio::test]
async fn a_missing_database_is_named_in_the_error() {
    let missing = format!("kiribi_no_such_db_{}", fastrand::u32(..));
    let base = url();
    let url = match base.rfind('/') {
        Some(slash) if slash > "postgres://".len() => format!("{}/{missing}", &base[..slash]),
        _ => panic!("KIRIBI_TEST_PG_URL must name a database: {base}"),
    };
    match PgStorage::connect(&url).await {
        Err(Error::MissingDatabase { name }) => {
            assert_eq!(name, missing);
            let message = Error::MissingDatabase { name }.to_string();
            assert!(message.contains(&missing), "{message}");
            assert!(message.contains("createdb"), "{message}");
        }
        other => panic!("expected MissingDatabase, got {other:?}"),
    }
}

#[tokio::test]
async fn an_invalid_url_is_refused_without_its_password() {
    for bad in [
        "mysql://localhost/jobs",
        "localhost:5432/jobs",
        "postgres://user:hunter2@localhost:notaport/jobs",
    ] {
        match PgStorage::connect(bad).await {
            Err(error @ Error::InvalidUrl { .. }) => {
                assert!(!error.to_string().contains("hunter2"), "{error}");
            }
            other => panic!("{bad}: expected InvalidUrl, got {other:?}"),
        }
    }
    match PgStorage::connect_with(PgStorageOptions::new("sqlite://jobs.db")).await {
        Err(Error::InvalidUrl { .. }) => {}
        other => panic!("expected InvalidUrl, got {other:?}"),
    }
}

#[tokio::test]
async fn an_unreachable_server_is_named_by_host_and_port() {
    // Nothing listens on port 1.
    match PgStorage::connect("postgres://postgres@127.0.0.1:1/test").await {
        Err(error @ Error::Storage { .. }) => {
            let mut text = error.to_string();
            let mut source = std::error::Error::source(&error);
            while let Some(inner) = source {
                text.push_str(" / ");
                text.push_str(&inner.to_string());
                source = inner.source();
            }
            assert!(text.contains("127.0.0.1:1"), "{text}");
        }
        other => panic!("expected a storage error, got {other:?}"),
    }
}

#[tokio::test]
async fn an_invalid_schema_name_is_refused_before_connecting() {
    for bad in ["", "my-jobs", "1st", "a\"; DROP TABLE x; --"] {
        let options = PgStorageOptions::new(&url()).schema(bad);
        match PgStorage::connect_with(options).await {
            Err(
                error @ Error::InvalidOption {
                    option: "schema", ..
                },
            ) => {
                let text = error.to_string();
                assert!(text.contains("schema name"), "{text}");
            }
            other => panic!("{bad:?}: expected an invalid `schema`, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn listening_can_be_turned_off_for_pgbouncer() {
    let schema = SchemaGuard::new("nolisten");
    let storage = PgStorage::connect_with(schema.options().listen(false))
        .await
        .unwrap();
    assert!(storage.listen().await.unwrap().is_none());
}

#[tokio::test]
async fn from_pool_works_in_a_schema_the_pool_does_not_search() {
    let schema = SchemaGuard::new("frompool");
    let pool = sqlx::PgPool::connect(&url()).await.unwrap();
    let storage = PgStorage::from_pool(
        pool.clone(),
        PgStorageOptions::default().schema(&schema.name),
    )
    .await
    .unwrap();
    assert_eq!(storage.schema(), schema.name);
    let ids = kiribi_conformance::enqueue(
        &storage,
        vec![NewJob::new("pooled", serde_json::json!({ "n": 1 }))],
    )
    .await;
    let record = storage.get(ids[0]).await.unwrap().unwrap();
    assert_eq!(record.name, "pooled");

    // The rows are in the schema, not in `public`.
    let mut conn = connection().await;
    let count: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM \"{}\".kiribi_jobs WHERE name = 'pooled'",
        schema.name
    )))
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(count, 1);
    // The pool's own connections kept their search path.
    let current: String = sqlx::query_scalar("SELECT current_schema()::text")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_ne!(current, schema.name);
}

#[tokio::test]
async fn from_pool_refuses_options_without_a_url_only_in_connect_with() {
    match PgStorage::connect_with(PgStorageOptions::default()).await {
        Err(Error::InvalidUrl { reason, .. }) => assert!(reason.contains("no database URL")),
        other => panic!("expected InvalidUrl, got {other:?}"),
    }
}

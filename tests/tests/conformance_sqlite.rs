//! The backend conformance suite against SQLite: a fresh file per test.

use kiribi::Storage;
use kiribi::sqlite::SqliteStorage;
use kiribi_tests::TestDb;
use kiribi_tests::conformance::TestDatabase;

struct SqliteTestDatabase(TestDb);

impl SqliteTestDatabase {
    fn new() -> Self {
        Self(TestDb::sqlite())
    }
}

impl TestDatabase for SqliteTestDatabase {
    async fn open(&self) -> Box<dyn Storage> {
        let storage = SqliteStorage::connect(self.0.url())
            .await
            .expect("connect to the test database");
        Box::new(storage)
    }
}

kiribi_tests::conformance_tests!(SqliteTestDatabase::new());

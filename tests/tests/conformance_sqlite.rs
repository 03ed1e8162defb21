//! The backend conformance suite against SQLite: a fresh file per test.

use kiribi::Storage;
use kiribi::sqlite::SqliteStorage;
use kiribi_conformance::TestDatabase;
use kiribi_tests::TestDb;

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

kiribi_conformance::conformance_tests!(SqliteTestDatabase::new());

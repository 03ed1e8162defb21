//! The backend conformance suite against PostgreSQL: a database of its own per test.

use kiribi::Storage;
use kiribi::postgres::PgStorage;
use kiribi_conformance::TestDatabase;
use kiribi_tests::TestDb;

struct PgTestDatabase(TestDb);

impl TestDatabase for PgTestDatabase {
    async fn open(&self) -> Box<dyn Storage> {
        let storage = PgStorage::connect(self.0.url())
            .await
            .expect("connect to the test database");
        Box::new(storage)
    }
}

kiribi_conformance::conformance_tests!(PgTestDatabase(TestDb::postgres().await));

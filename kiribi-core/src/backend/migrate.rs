//! Embedded schema migrations: which to apply, and when a database is too new.

use crate::Error;

/// One embedded schema migration, from a file `migrations/<version>_<what>.sql`.
///
/// A backend lists its migrations oldest first in a `const` slice (checked at
/// compile time with [`versions_increase`]) and records each applied `version` in
/// its `kiribi_migrations` table. Every backend uses the same versions, so one
/// number names one schema generation.
///
/// # Examples
///
/// ```
/// use kiribi_core::backend::Migration;
///
/// const CREATE_JOBS: Migration = Migration::new(20261129000000, "create jobs", "CREATE TABLE …");
/// assert_eq!(CREATE_JOBS.file_name(), "20261129000000_create_jobs.sql");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    /// The `<timestamp>` of its file name; applied in increasing order.
    pub version: i64,
    /// The `<what>` of its file name, with spaces for underscores.
    pub description: &'static str,
    /// Its SQL.
    pub sql: &'static str,
}

impl Migration {
    /// A migration of `version`, described as `description`, running `sql`.
    pub const fn new(version: i64, description: &'static str, sql: &'static str) -> Self {
        Self {
            version,
            description,
            sql,
        }
    }

    /// The name of the file it is embedded from: `<version>_<description>.sql`, with
    /// underscores for the description's spaces.
    pub fn file_name(&self) -> String {
        format!(
            "{}_{}.sql",
            self.version,
            self.description.replace(' ', "_")
        )
    }
}

/// The newest schema version in `migrations` (oldest first), or 0 if there are none.
///
/// # Examples
///
/// ```
/// use kiribi_core::backend::{Migration, latest_version};
///
/// assert_eq!(latest_version(&[]), 0);
/// assert_eq!(latest_version(&[Migration::new(1, "a", ""), Migration::new(2, "b", "")]), 2);
/// ```
pub fn latest_version(migrations: &[Migration]) -> i64 {
    migrations.last().map_or(0, |migration| migration.version)
}

/// Whether every version in `migrations` is greater than the one before it.
///
/// A `const fn`, so a backend checks its list when it compiles:
///
/// ```
/// use kiribi_core::backend::{Migration, versions_increase};
///
/// const MIGRATIONS: &[Migration] = &[Migration::new(1, "a", ""), Migration::new(2, "b", "")];
/// const _: () = assert!(versions_increase(MIGRATIONS));
/// ```
pub const fn versions_increase(migrations: &[Migration]) -> bool {
    let mut index = 1;
    while index < migrations.len() {
        if migrations[index - 1].version >= migrations[index].version {
            return false;
        }
        index += 1;
    }
    true
}

/// The migrations a database still needs, oldest first, given the versions it has
/// recorded as `applied`.
///
/// # Examples
///
/// ```
/// use kiribi_core::backend::{Migration, pending_migrations};
///
/// const MIGRATIONS: &[Migration] = &[Migration::new(1, "a", ""), Migration::new(2, "b", "")];
/// let pending = pending_migrations(MIGRATIONS, &[1]).unwrap();
/// assert_eq!(pending, [&MIGRATIONS[1]]);
///
/// let too_new = pending_migrations(MIGRATIONS, &[1, 2, 3]).unwrap_err();
/// assert_eq!((too_new.found, too_new.supported), (3, 2));
/// ```
///
/// # Errors
///
/// [`SchemaTooNew`] if the database records a version newer than the newest in
/// `migrations`: a newer kiribi migrated it, and this build must touch nothing.
pub fn pending_migrations<'m>(
    migrations: &'m [Migration],
    applied: &[i64],
) -> Result<Vec<&'m Migration>, SchemaTooNew> {
    let supported = latest_version(migrations);
    if let Some(&found) = applied.iter().max()
        && found > supported
    {
        return Err(SchemaTooNew { found, supported });
    }
    Ok(migrations
        .iter()
        .filter(|migration| !applied.contains(&migration.version))
        .collect())
}

/// What a connection that does not migrate finds, given the versions a database
/// has recorded as `applied`: current, too new, or outdated. Changes nothing.
///
/// # Examples
///
/// ```
/// use kiribi_core::backend::{Migrated, Migration, schema_state};
///
/// const MIGRATIONS: &[Migration] = &[Migration::new(1, "a", ""), Migration::new(2, "b", "")];
/// assert_eq!(schema_state(MIGRATIONS, &[1, 2]), Migrated::UpToDate(0));
/// assert!(matches!(schema_state(MIGRATIONS, &[1]), Migrated::Outdated(_)));
/// assert!(matches!(schema_state(MIGRATIONS, &[1, 2, 3]), Migrated::TooNew(_)));
/// ```
pub fn schema_state(migrations: &[Migration], applied: &[i64]) -> Migrated {
    match pending_migrations(migrations, applied) {
        Err(too_new) => Migrated::TooNew(too_new),
        Ok(pending) if pending.is_empty() => Migrated::UpToDate(0),
        Ok(_) => Migrated::Outdated(SchemaOutdated::of(migrations, applied)),
    }
}

/// A database migrated by a newer kiribi than this build.
///
/// Turned into the user-facing [`Error::SchemaTooNew`] by [`into_error`](Self::into_error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaTooNew {
    /// The newest migration recorded in the database.
    pub found: i64,
    /// The newest migration this build has.
    pub supported: i64,
}

impl SchemaTooNew {
    /// The [`Error::SchemaTooNew`] of the named backend (`sqlite`, `postgres`).
    ///
    /// # Examples
    ///
    /// ```
    /// use kiribi_core::Error;
    /// use kiribi_core::backend::SchemaTooNew;
    ///
    /// let error = SchemaTooNew { found: 3, supported: 2 }.into_error("sqlite");
    /// assert!(matches!(error, Error::SchemaTooNew { found: 3, supported: 2, .. }));
    /// ```
    pub fn into_error(self, backend: &'static str) -> Error {
        Error::SchemaTooNew {
            backend,
            found: self.found,
            supported: self.supported,
        }
    }
}

/// A database whose schema is older than this build's, found by a connection that
/// does not migrate.
///
/// Turned into the user-facing [`Error::SchemaOutdated`] by [`into_error`](Self::into_error).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaOutdated {
    /// The newest migration recorded in the database (0 for none).
    pub found: i64,
    /// The newest migration this build has.
    pub needed: i64,
}

impl SchemaOutdated {
    /// The outdated schema of a database that recorded `applied` (its pending
    /// migrations are not empty).
    pub fn of(migrations: &[Migration], applied: &[i64]) -> Self {
        Self {
            found: applied.iter().copied().max().unwrap_or(0),
            needed: latest_version(migrations),
        }
    }

    /// The [`Error::SchemaOutdated`] of the named backend.
    pub fn into_error(self, backend: &'static str) -> Error {
        Error::SchemaOutdated {
            backend,
            found: self.found,
            needed: self.needed,
        }
    }
}

/// What a backend's migrator found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Migrated {
    /// The schema is current; this many migrations were applied now.
    UpToDate(usize),
    /// The schema was migrated by a newer kiribi; nothing was touched.
    TooNew(SchemaTooNew),
    /// The schema needs migrations and the connection was told not to apply them;
    /// nothing was touched.
    Outdated(SchemaOutdated),
}

impl Migrated {
    /// The number of migrations applied, or the named backend's error for a schema
    /// that is too new.
    ///
    /// # Examples
    ///
    /// ```
    /// use kiribi_core::backend::{Migrated, SchemaTooNew};
    ///
    /// assert_eq!(Migrated::UpToDate(1).check("sqlite").unwrap(), 1);
    /// let too_new = Migrated::TooNew(SchemaTooNew { found: 3, supported: 2 });
    /// assert!(too_new.check("sqlite").is_err());
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::SchemaTooNew`] for [`Migrated::TooNew`], [`Error::SchemaOutdated`]
    /// for [`Migrated::Outdated`].
    pub fn check(self, backend: &'static str) -> Result<usize, Error> {
        match self {
            Migrated::UpToDate(count) => Ok(count),
            Migrated::TooNew(too_new) => Err(too_new.into_error(backend)),
            Migrated::Outdated(outdated) => Err(outdated.into_error(backend)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIGRATIONS: &[Migration] = &[
        Migration::new(10, "create jobs", "a"),
        Migration::new(20, "add tags", "b"),
        Migration::new(30, "add index", "c"),
    ];

    #[test]
    fn a_new_database_needs_every_migration() {
        let pending = pending_migrations(MIGRATIONS, &[]).unwrap();
        let versions: Vec<i64> = pending.iter().map(|m| m.version).collect();
        assert_eq!(versions, [10, 20, 30]);
    }

    #[test]
    fn applied_migrations_are_skipped_wherever_they_are() {
        let pending = pending_migrations(MIGRATIONS, &[30, 10]).unwrap();
        assert_eq!(pending, [&MIGRATIONS[1]]);
        assert!(
            pending_migrations(MIGRATIONS, &[10, 20, 30])
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_newer_version_than_known_is_too_new() {
        assert_eq!(
            pending_migrations(MIGRATIONS, &[10, 40]),
            Err(SchemaTooNew {
                found: 40,
                supported: 30
            })
        );
    }

    #[test]
    fn too_new_names_backend_and_versions() {
        let error = Migrated::TooNew(SchemaTooNew {
            found: 40,
            supported: 30,
        })
        .check("postgres")
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "the postgres database has kiribi schema version 40, newer than 30, the newest \
             this build knows; upgrade kiribi in this program rather than run an older one \
             against it"
        );
    }

    #[test]
    fn outdated_names_both_versions_and_what_to_run() {
        let outdated = SchemaOutdated::of(MIGRATIONS, &[10]);
        assert_eq!((outdated.found, outdated.needed), (10, 30));
        let error = Migrated::Outdated(outdated).check("sqlite").unwrap_err();
        let text = error.to_string();
        assert!(text.contains("version 10, older than 30"), "{text}");
        assert!(text.contains("kiribi migrate"), "{text}");
        assert_eq!(SchemaOutdated::of(MIGRATIONS, &[]).found, 0);
    }

    #[test]
    fn latest_version_is_the_last_or_zero() {
        assert_eq!(latest_version(MIGRATIONS), 30);
        assert_eq!(latest_version(&[]), 0);
    }

    #[test]
    fn versions_must_strictly_increase() {
        assert!(versions_increase(MIGRATIONS));
        assert!(versions_increase(&[]));
        assert!(!versions_increase(&[
            Migration::new(2, "b", ""),
            Migration::new(1, "a", "")
        ]));
        assert!(!versions_increase(&[
            Migration::new(1, "a", ""),
            Migration::new(1, "b", "")
        ]));
    }

    #[test]
    fn file_name_joins_version_and_description() {
        assert_eq!(MIGRATIONS[0].file_name(), "10_create_jobs.sql");
    }
}

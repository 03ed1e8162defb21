//! `PgJobListener`: wake-ups pushed by PostgreSQL's `NOTIFY` when jobs are inserted.
//!
//! The insert trigger of `kiribi_jobs` notifies `kiribi_jobs.<schema>` once per
//! statement, on commit. A listener holds one connection of its own (in a pool of
//! one, which sqlx's `PgListener` uses to reconnect) that does nothing but `LISTEN`.

use std::time::Duration;

use kiribi_core::Error;
use kiribi_core::backend::Listener;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};

use crate::error::storage_error;

/// The `application_name` of a listener's connection, followed by the schema; it
/// tells kiribi's listeners apart in `pg_stat_activity`.
pub(crate) const APPLICATION_NAME: &str = "kiribi-listener";

/// A subscription to one schema's job channel.
pub(crate) struct PgJobListener {
    listener: PgListener,
    /// Set when a call failed: the connection may have been lost in between, so the
    /// next successful (re)connection is reported as a wake-up.
    owes_wakeup: bool,
}

impl PgJobListener {
    /// Connects with `connect` (kiribi's connection options) and listens on `channel`.
    pub(crate) async fn connect(
        connect: &PgConnectOptions,
        channel: &str,
        schema: &str,
        acquire_timeout: Duration,
    ) -> Result<Self, Error> {
        let mut application_name = format!("{APPLICATION_NAME}:{schema}");
        // `application_name` is cut at 63 bytes by the server anyway; cut it here on a
        // character boundary (the schema is ASCII) to keep it predictable.
        application_name.truncate(63);
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            // The connection lives as long as the listener; only a lost connection
            // is replaced.
            .max_lifetime(None)
            .idle_timeout(None)
            .acquire_timeout(acquire_timeout)
            .connect_lazy_with(connect.clone().application_name(&application_name));
        let mut listener = PgListener::connect_with(&pool)
            .await
            .map_err(storage_error)?;
        // The pool is the listener's alone and closes only when it is dropped.
        listener.ignore_pool_close_event(true);
        listener.listen(channel).await.map_err(storage_error)?;
        Ok(Self {
            listener,
            owes_wakeup: false,
        })
    }

    /// Re-establishes the connection (and its `LISTEN`) if it was lost.
    async fn reconnect(&mut self) -> Result<(), sqlx::Error> {
        // Running a statement through the listener makes it reconnect and re-subscribe
        // first, if needed; `try_recv` would instead go on to wait for a notification.
        sqlx::query("SELECT 1").execute(&mut self.listener).await?;
        Ok(())
    }
}

#[kiribi_core::backend::async_trait]
impl Listener for PgJobListener {
    /// Resolves on the next notification, or once the connection was lost and
    /// re-established (jobs inserted in between were not announced).
    ///
    /// Notifications are not drained past the first: PostgreSQL already merges the
    /// notifications of one transaction, the worker's wake-up coalesces the rest, and
    /// polling sqlx's listener without waiting could cancel a reconnection halfway,
    /// losing the wake-up owed after it.
    async fn recv(&mut self) -> Result<(), Error> {
        if self.owes_wakeup {
            self.reconnect().await.map_err(storage_error)?;
            self.owes_wakeup = false;
            return Ok(());
        }
        match self.listener.try_recv().await {
            Ok(Some(_notification)) => Ok(()),
            Ok(None) => {
                // sqlx reconnected (and re-issued `LISTEN`) before returning `None`.
                tracing::debug!("kiribi listener reconnected to postgres");
                Ok(())
            }
            Err(error) => {
                self.owes_wakeup = true;
                Err(storage_error(error))
            }
        }
    }
}

//! kiribi's web dashboard: an [axum](https://docs.rs/axum) [`Router`] over a job
//! store, server-rendered, with every asset embedded (nothing is fetched from the
//! internet).
//!
//! Users reach it as `kiribi::dashboard` (feature `dashboard` of `kiribi`), which
//! implements [`Operations`] for `kiribi::Kiribi`:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), kiribi::Error> {
//! # let dir = tempfile::tempdir().unwrap();
//! # let url = format!("sqlite://{}", dir.path().join("jobs.db").display());
//! let kiribi = kiribi::Kiribi::connect(&url).await?;
//! let app = axum::Router::new()
//!     .nest("/admin/jobs", kiribi::dashboard::router(kiribi.clone()));
//! // With a token and without actions:
//! let ops = kiribi_dashboard::Dashboard::new(kiribi).token("s3cret").read_only(true).router();
//! # let _ = (app, ops);
//! # Ok(()) }
//! ```
//!
//! # Pages
//!
//! - **Overview** (`/`): jobs by status, throughput, failure-rate and run-time charts
//!   over a window, run-time and wait-time percentiles per job, queue depths, the
//!   slowest and the most failing jobs.
//! - **Jobs** (`/jobs`): filtered by status, name, queue, text in the payload or the
//!   last error, and creation or finish time; paged by id (a keyset cursor, so the
//!   millionth job's page is as fast as the first); retry, cancel or delete the
//!   selected jobs or every job the filter matches, after a confirmation.
//! - **Job** (`/jobs/{id}`): payload and result as formatted JSON, every attempt
//!   with its worker, timings and error, the log lines, the progress, and the flow it
//!   is a step of as a graph; retry, cancel, delete, run now.
//! - **Queues** (`/queues`): depths, pause and resume. **Schedules** (`/schedules`):
//!   next and last run, pause, resume, run now. **Flows** (`/flows`, `/flows/{id}`):
//!   steps and their dependencies, cancel.
//!
//! Pages refresh their figures every 2 seconds while they show work in progress
//! (or ten times as long as the last refresh took, when that is longer, so that a
//! page slow to build on a large table is not fetched back to back), without
//! reloading (a small embedded script swaps the changed parts and keeps what was
//! typed and ticked).
//!
//! # Security
//!
//! - Every action is a `POST` carrying a CSRF token: the HMAC, under a random
//!   secret of the router, of a nonce kept in a `SameSite=Strict` cookie. A missing
//!   or wrong token is refused with 403. The secret is made anew for each router, so
//!   a form loaded before a restart must be reloaded.
//! - Every value read from the database is escaped (templates are
//!   [maud](https://maud.lambda.xyz)'s), and a content security policy allows no
//!   script, style or frame but the dashboard's own.
//! - Filters reach the database as bound parameters, through `JobFilter`.
//! - [`Dashboard::token`] requires a token: `?token=…` once (remembered in an
//!   `HttpOnly` cookie) or an `Authorization: Bearer …` header; other requests get
//!   401. [`Dashboard::read_only`] hides every action and refuses them with 403.
//!
//! Cookies are not marked `Secure`, so that a dashboard on plain HTTP (a loopback
//! address) works; serve it over HTTPS beyond one machine.

mod filter;
mod operations;
mod pages;
mod security;
mod svg;

use std::sync::Arc;

use axum::routing::{get, post};

pub use kiribi_core::backend::async_trait;
pub use operations::Operations;

/// The axum this crate builds its router with.
pub use axum;
/// The router the dashboard is: mount it with [`Router::nest`], or serve it.
pub use axum::Router;

/// A dashboard over an [`Operations`] implementation: set the options, then take
/// its [`router`](Self::router).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), kiribi::Error> {
/// # let dir = tempfile::tempdir().unwrap();
/// # let url = format!("sqlite://{}", dir.path().join("jobs.db").display());
/// let kiribi = kiribi::Kiribi::connect(&url).await?;
/// let router: axum::Router = kiribi_dashboard::Dashboard::new(kiribi)
///     .token("s3cret")
///     .read_only(false)
///     .router();
/// # let _ = router;
/// # Ok(()) }
/// ```
#[must_use = "a dashboard does nothing until its router is served"]
pub struct Dashboard<O> {
    operations: O,
    token: Option<String>,
    read_only: bool,
}

impl<O: Operations> Dashboard<O> {
    /// A dashboard over `operations`, with no token and every action allowed.
    pub fn new(operations: O) -> Self {
        Self {
            operations,
            token: None,
            read_only: false,
        }
    }

    /// Requires `token` on every request: `?token=…` once per browser (kept in a
    /// cookie), or an `Authorization: Bearer …` header. Without it a request gets
    /// 401. An empty token admits nobody.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Hides every action (retry, cancel, delete, pause, run now) and refuses
    /// `POST` requests with 403.
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }

    /// The router: every page and asset under the path it is mounted at.
    pub fn router(self) -> Router {
        let guard = Arc::new(security::Guard::new(self.token.as_deref(), self.read_only));
        let operations: Arc<dyn Operations> = Arc::new(self.operations);
        Router::new()
            .route("/", get(pages::overview::page))
            .route("/jobs", get(pages::jobs::page))
            .route("/jobs/bulk", post(pages::jobs::bulk))
            .route("/jobs/{id}", get(pages::job::page))
            .route("/jobs/{id}/{action}", post(pages::job::action))
            .route("/queues", get(pages::queues::page))
            .route("/queues/action", post(pages::queues::action))
            .route("/schedules", get(pages::schedules::page))
            .route("/schedules/action", post(pages::schedules::action))
            .route("/flows", get(pages::flows::page))
            .route("/flows/{id}", get(pages::flows::detail))
            .route("/flows/{id}/cancel", post(pages::flows::cancel))
            .route("/assets/{file}", get(pages::asset))
            .fallback(pages::not_found)
            .with_state(operations)
            .layer(axum::middleware::from_fn_with_state(guard, security::guard))
    }
}

impl<O> std::fmt::Debug for Dashboard<O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dashboard")
            .field("token", &self.token.as_ref().map(|_| "…"))
            .field("read_only", &self.read_only)
            .finish_non_exhaustive()
    }
}

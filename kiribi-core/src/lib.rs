//! The backend contract of [kiribi](https://docs.rs/kiribi): the [`Storage`] trait
//! that every database backend implements, the records it stores, the errors every
//! kiribi call returns, and the retry math.
//!
//! Users depend on `kiribi`, which re-exports everything here. Backend authors
//! implement [`Storage`] and run kiribi's conformance suite against it, with the
//! database-independent parts of a backend in [`backend`].
//!
//! ```
//! use std::time::Duration;
//! use kiribi_core::{Backoff, EnqueueOptions, RetryPolicy};
//! use kiribi_core::backend::NewJob;
//!
//! let job = NewJob::new("send_welcome", serde_json::json!({ "user_id": 7 }))
//!     .with_options(&EnqueueOptions::new().queue("mail").priority(3));
//! assert_eq!((job.queue.as_str(), job.priority), ("mail", 3));
//!
//! let policy = RetryPolicy::new(Backoff::Linear, Duration::from_secs(2));
//! assert_eq!(policy.delay_after(2), Duration::from_secs(4));
//! ```

pub mod backend;
mod error;
mod filter;
mod flow;
mod id;
mod log;
mod options;
mod record;
mod retry;
mod schedule;
mod stats;
mod status;
mod storage;

pub use error::{BoxError, Error, JobError, Result, chain_text};
pub use filter::{JobFilter, TimeRange};
pub use flow::{
    FlowFilter, FlowId, FlowRecord, FlowStatus, FlowStep, ParseFlowIdError, ParseFlowStatusError,
};
pub use id::{JobId, ParseJobIdError};
pub use log::{LogLevel, LogLine, NewLogLine, ParseLogLevelError, ProgressUpdate};
pub use options::EnqueueOptions;
pub use record::{AttemptRecord, JobRecord, QueueInfo};
pub use retry::{Backoff, ParseBackoffError, RetryPolicy};
pub use schedule::ScheduleRecord;
pub use stats::{JobStats, MinuteStats, Percentiles, Retention, Stats};
pub use status::{JobStatus, ParseJobStatusError};
pub use storage::Storage;

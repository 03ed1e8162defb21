//! `LogLayer` (feature `log-layer`): `tracing` events inside a job, kept with its
//! attempt's log lines.
//!
//! The worker makes a `job` span around each attempt ([`attempt_span`]). When a
//! `LogLayer` exists, the attempt's context is left in a thread-local slot while
//! that span is made, and the layer, told of the new span on the same thread, moves
//! it into the span's extensions. An event then finds its job by walking up its
//! spans: no map of running jobs, no lookup by id, and events of tasks the job
//! spawned `.in_current_span()` are found too.

use tracing::Span;

use crate::JobContext;

/// The span of one attempt, made by `make`: where a [`LogLayer`] finds the attempt
/// `ctx` for the events inside it. Without the feature, or until a `LogLayer` is
/// made, just `make()`.
pub(crate) fn attempt_span(ctx: &JobContext, make: impl FnOnce() -> Span) -> Span {
    #[cfg(feature = "log-layer")]
    if layer::INSTALLED.load(std::sync::atomic::Ordering::Relaxed) {
        return layer::with_starting(ctx, make);
    }
    let _ = ctx;
    make()
}

#[cfg(feature = "log-layer")]
pub use layer::{LogLayer, log_layer};

#[cfg(feature = "log-layer")]
mod layer {
    use std::cell::RefCell;
    use std::fmt::{self, Write as _};
    use std::sync::atomic::{AtomicBool, Ordering};

    use tracing::field::{Field, Visit};
    use tracing::{Event, Level, Span, Subscriber, span};
    use tracing_subscriber::layer::Context;
    use tracing_subscriber::registry::LookupSpan;

    use crate::{JobContext, LogLevel};

    /// Whether any `LogLayer` was made: until then the worker leaves no context
    /// in the slot.
    pub(super) static INSTALLED: AtomicBool = AtomicBool::new(false);

    /// The name of the span the worker makes around each attempt.
    const ATTEMPT_SPAN: &str = "job";

    thread_local! {
        /// The context of the attempt whose span is being made on this thread.
        static STARTING: RefCell<Option<JobContext>> = const { RefCell::new(None) };
    }

    /// `make()`, with `ctx` in the slot while it runs.
    pub(super) fn with_starting(ctx: &JobContext, make: impl FnOnce() -> Span) -> Span {
        STARTING.with(|slot| *slot.borrow_mut() = Some(ctx.clone()));
        let span = make();
        // Still there if no layer took it (the span was disabled, say).
        STARTING.with(|slot| slot.borrow_mut().take());
        span
    }

    /// The attempt a span belongs to, in its extensions.
    struct Attempt(JobContext);

    /// A [`tracing_subscriber::Layer`] that stores the `tracing` events inside a
    /// job with its attempt's log lines, at their level, as
    /// [`JobContext::log`](crate::JobContext::log) stores its lines (same bound,
    /// same batches): the message, then each field as ` key=value`.
    ///
    /// Install it next to your own layers; events inside jobs still reach them,
    /// and events outside any job are left alone. It finds the job through the
    /// `job` span (target `kiribi::worker::execute`, level `INFO`) the worker
    /// enters around each attempt, so that span must be enabled: a global filter
    /// that turns off `INFO` spans of `kiribi` (`EnvFilter::new("warn")`, say)
    /// turns the layer off too, while per-layer filters on your other layers do
    /// not. Events of kiribi's own crates are not stored. Events of tasks the job
    /// spawned are stored when the task runs in the job's span
    /// (`.in_current_span()`).
    ///
    /// # Examples
    ///
    /// ```
    /// use tracing_subscriber::layer::SubscriberExt;
    ///
    /// let subscriber = tracing_subscriber::registry().with(kiribi::log_layer());
    /// let _guard = tracing::subscriber::set_default(subscriber);
    ///
    /// #[kiribi::job]
    /// async fn import(file: String) -> Result<u64, String> {
    ///     tracing::info!(rows = 10, %file, "parsed"); // stored as "parsed rows=10 file=a.csv"
    ///     Ok(10)
    /// }
    /// ```
    #[derive(Debug, Clone)]
    pub struct LogLayer {
        _private: (),
    }

    /// A [`LogLayer`].
    ///
    /// # Examples
    ///
    /// ```
    /// use tracing_subscriber::layer::SubscriberExt;
    ///
    /// // In a program: `tracing::subscriber::set_global_default(…)`, or `.init()`.
    /// let _guard = tracing::subscriber::set_default(
    ///     tracing_subscriber::registry().with(kiribi::log_layer()),
    /// );
    /// ```
    pub fn log_layer() -> LogLayer {
        LogLayer::new()
    }

    impl LogLayer {
        /// A layer; see [`LogLayer`].
        pub fn new() -> Self {
            INSTALLED.store(true, Ordering::Relaxed);
            Self { _private: () }
        }
    }

    impl Default for LogLayer {
        fn default() -> Self {
            Self::new()
        }
    }

    impl<S> tracing_subscriber::Layer<S> for LogLayer
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
            if attrs.metadata().name() != ATTEMPT_SPAN || !is_kiribis(attrs.metadata().target()) {
                return;
            }
            let Some(job) = STARTING.with(|slot| slot.borrow_mut().take()) else {
                return;
            };
            if let Some(span) = ctx.span(id) {
                span.extensions_mut().insert(Attempt(job));
            }
        }

        fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
            if is_kiribis(event.metadata().target()) {
                return;
            }
            let Some(scope) = ctx.event_scope(event) else {
                return;
            };
            // The context is cloned out so that no span lock is held while the
            // event's fields are formatted (their `Debug` may emit events too).
            let Some(job) = scope
                .into_iter()
                .find_map(|span| span.extensions().get::<Attempt>().map(|a| a.0.clone()))
            else {
                return;
            };
            let mut message = Message::default();
            event.record(&mut message);
            job.log_at(level_of(*event.metadata().level()), message.finish());
        }
    }

    /// Whether `target` is in one of kiribi's own crates.
    fn is_kiribis(target: &str) -> bool {
        let krate = target.split("::").next().unwrap_or(target);
        matches!(
            krate,
            "kiribi" | "kiribi_core" | "kiribi_sqlite" | "kiribi_postgres"
        )
    }

    fn level_of(level: Level) -> LogLevel {
        match level {
            Level::TRACE => LogLevel::Trace,
            Level::DEBUG => LogLevel::Debug,
            Level::INFO => LogLevel::Info,
            Level::WARN => LogLevel::Warn,
            Level::ERROR => LogLevel::Error,
        }
    }

    /// An event's message, then its other fields as ` key=value`.
    #[derive(Default)]
    struct Message {
        message: String,
        fields: String,
    }

    impl Message {
        fn finish(mut self) -> String {
            if self.message.is_empty() {
                return self.fields.trim_start().to_owned();
            }
            self.message.push_str(&self.fields);
            self.message
        }
    }

    impl Visit for Message {
        fn record_str(&mut self, field: &Field, value: &str) {
            if field.name() == "message" {
                self.message.push_str(value);
            } else if !field.name().starts_with("log.") {
                let _ = write!(self.fields, " {}={value}", field.name());
            }
        }

        fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
            if field.name() == "message" {
                let _ = write!(self.message, "{value:?}");
            } else if !field.name().starts_with("log.") {
                let _ = write!(self.fields, " {}={value:?}", field.name());
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn kiribis_own_targets_are_recognised() {
            assert!(is_kiribis("kiribi::worker::execute"));
            assert!(is_kiribis("kiribi_sqlite"));
            assert!(!is_kiribis("kiribi_app::jobs"));
            assert!(!is_kiribis("my_app"));
        }

        #[test]
        fn a_message_comes_before_its_fields() {
            let message = Message {
                message: "parsed".to_owned(),
                fields: " rows=10".to_owned(),
            };
            assert_eq!(message.finish(), "parsed rows=10");
            let fields_only = Message {
                message: String::new(),
                fields: " rows=10".to_owned(),
            };
            assert_eq!(fields_only.finish(), "rows=10");
        }
    }
}

//! A small `tracing` subscriber for the test worker: one line on stderr per event
//! at `RUST_LOG`'s level or above (warnings and errors when it is unset).
//!
//! Process tests read these lines (a worker's warnings name the database errors it
//! retried, such as `deadlock detected`). `RUST_LOG` is read as one level
//! (`info`) or as directives, of which the last level is taken (`kiribi=debug`
//! logs everything at debug): a test worker needs no filtering by target.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// Installs the subscriber for the whole process; does nothing for `RUST_LOG=off`.
pub fn init() {
    let level = std::env::var("RUST_LOG")
        .ok()
        .map_or(Some(Level::WARN), |value| {
            let last = value.rsplit([',', '=']).next().unwrap_or_default();
            match last.trim().to_ascii_lowercase().as_str() {
                "off" => None,
                "error" => Some(Level::ERROR),
                "info" => Some(Level::INFO),
                "debug" => Some(Level::DEBUG),
                "trace" => Some(Level::TRACE),
                _ => Some(Level::WARN),
            }
        });
    if let Some(max) = level {
        // Fails only if a subscriber is installed already, which then logs instead.
        let _ = tracing::subscriber::set_global_default(StderrLog {
            max,
            next_span: AtomicU64::new(1),
        });
    }
}

struct StderrLog {
    max: Level,
    next_span: AtomicU64,
}

impl Subscriber for StderrLog {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        // More verbose levels compare greater.
        *metadata.level() <= self.max
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::from_level(self.max))
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        // Spans are not printed; each still needs an id of its own (never 0).
        Id::from_u64(self.next_span.fetch_add(1, Ordering::Relaxed))
    }

    fn record(&self, _: &Id, _: &Record<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let metadata = event.metadata();
        let mut line = Line(format!(
            "{} {} pid={}:",
            metadata.level(),
            metadata.target(),
            std::process::id()
        ));
        event.record(&mut line);
        // One write per line, so lines of several threads do not interleave.
        line.0.push('\n');
        let _ = std::io::Write::write_all(&mut std::io::stderr(), line.0.as_bytes());
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// One log line being written.
struct Line(String);

impl Visit for Line {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            let _ = write!(self.0, " {value}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, " {value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
}

//! OpenTelemetry trace propagation (feature `opentelemetry`): the trace context of
//! the span a job is enqueued in is stored with the job as a W3C `traceparent`,
//! and each attempt's span continues it: as its parent for the first attempt, as a
//! link for later ones (a retry is its own trace, linked to the one that caused
//! it). Without the feature, or when the enqueuing span has no OpenTelemetry
//! context (no `tracing_opentelemetry` layer installed), nothing is stored.

/// Whether workers ask claims for stored trace contexts.
pub(crate) const ENABLED: bool = cfg!(feature = "opentelemetry");

/// The current span's trace context as a `traceparent`, if it has a valid one.
#[cfg(feature = "opentelemetry")]
pub(crate) fn current_traceparent() -> Option<String> {
    use opentelemetry::trace::TraceContextExt;
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    let context = tracing::Span::current().context();
    let span = context.span();
    let span_context = span.span_context();
    span_context.is_valid().then(|| {
        format!(
            "00-{}-{}-{:02x}",
            span_context.trace_id(),
            span_context.span_id(),
            span_context.trace_flags().to_u8()
        )
    })
}

/// Without the feature: no trace context.
#[cfg(not(feature = "opentelemetry"))]
pub(crate) fn current_traceparent() -> Option<String> {
    None
}

/// Makes the enqueuing span `traceparent` the parent of attempt 1's `span`, or a
/// link of a later attempt's. A malformed value (not written by kiribi) is
/// ignored: the attempt then starts a trace of its own.
#[cfg(feature = "opentelemetry")]
pub(crate) fn continue_trace(span: &tracing::Span, traceparent: Option<&str>, attempt: u32) {
    use opentelemetry::trace::TraceContextExt;
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    let Some(remote) = traceparent.and_then(parse) else {
        return;
    };
    if attempt <= 1 {
        // Fails only without an OpenTelemetry layer, when there is nothing to set.
        let _ = span.set_parent(opentelemetry::Context::new().with_remote_span_context(remote));
    } else {
        span.add_link(remote);
    }
}

/// Without the feature: nothing to continue.
#[cfg(not(feature = "opentelemetry"))]
pub(crate) fn continue_trace(_span: &tracing::Span, _traceparent: Option<&str>, _attempt: u32) {}

/// A `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`) as a remote span context.
#[cfg(feature = "opentelemetry")]
fn parse(traceparent: &str) -> Option<opentelemetry::trace::SpanContext> {
    use opentelemetry::trace::{SpanContext, SpanId, TraceFlags, TraceId, TraceState};

    let mut parts = traceparent.split('-');
    let (version, trace, span, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if version != "00" || parts.next().is_some() || trace.len() != 32 || span.len() != 16 {
        return None;
    }
    let context = SpanContext::new(
        TraceId::from_hex(trace).ok()?,
        SpanId::from_hex(span).ok()?,
        TraceFlags::new(u8::from_str_radix(flags, 16).ok()?),
        true,
        TraceState::default(),
    );
    context.is_valid().then_some(context)
}

#[cfg(all(test, feature = "opentelemetry"))]
mod tests {
    use super::*;

    #[test]
    fn a_traceparent_parses_back_and_bad_ones_are_ignored() {
        let good = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let context = parse(good).expect("a valid traceparent");
        assert_eq!(
            context.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(context.span_id().to_string(), "00f067aa0ba902b7");
        assert!(context.is_sampled() && context.is_remote());
        for bad in [
            "",
            "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-00",
            "00-xyz-00f067aa0ba902b7-01",
        ] {
            assert!(parse(bad).is_none(), "{bad:?}");
        }
    }
}

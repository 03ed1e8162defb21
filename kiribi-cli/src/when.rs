//! Times and durations as a person types them: `1h` ago, RFC 3339, a window.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};

/// The longest `stats --window` that kiribi reads (its rollups span 31 days).
const MAX_WINDOW: Duration = kiribi::Stats::MAX_WINDOW;

/// `--created-after 1h` (one hour ago) or `--created-after 2024-05-01T09:30:00Z`.
pub(crate) fn parse_ago_or_time(text: &str) -> Result<DateTime<Utc>, String> {
    ago_or_time(text, Utc::now())
}

fn ago_or_time(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let text = text.trim();
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    let hint = "give an RFC 3339 time (2024-05-01T09:30:00Z) or how long ago (90s, 15m, 1h, 7d)";
    let ago =
        humantime::parse_duration(text).map_err(|_| format!("`{text}` is not a time: {hint}"))?;
    TimeDelta::from_std(ago)
        .ok()
        .and_then(|ago| now.checked_sub_signed(ago))
        .ok_or_else(|| format!("`{text}` is too long ago: {hint}"))
}

/// `--window 1h`: a duration of at least a minute and at most 31 days.
pub(crate) fn parse_window(text: &str) -> Result<Duration, String> {
    let window = humantime::parse_duration(text.trim())
        .map_err(|_| format!("`{text}` is not a duration: give one such as 15m, 1h or 7d"))?;
    if window < Duration::from_secs(60) || window > MAX_WINDOW {
        return Err(format!(
            "`{text}` is outside the windows kiribi keeps statistics for: give 1m to 31d"
        ));
    }
    Ok(window)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duration_means_that_long_ago() {
        let now = DateTime::parse_from_rfc3339("2024-05-01T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            ago_or_time("90m", now).unwrap().to_rfc3339(),
            "2024-05-01T08:30:00+00:00"
        );
        assert_eq!(ago_or_time("1h 30m", now), ago_or_time("90m", now));
    }

    #[test]
    fn an_rfc3339_time_is_taken_as_it_is_in_utc() {
        let at = ago_or_time("2024-05-01T09:30:00+09:00", Utc::now()).unwrap();
        assert_eq!(at.to_rfc3339(), "2024-05-01T00:30:00+00:00");
    }

    #[test]
    fn anything_else_says_what_to_type() {
        let err = ago_or_time("yesterday", Utc::now()).unwrap_err();
        assert!(
            err.contains("`yesterday`") && err.contains("RFC 3339"),
            "{err}"
        );
    }

    #[test]
    fn windows_are_between_a_minute_and_31_days() {
        assert_eq!(parse_window("1h"), Ok(Duration::from_secs(3600)));
        assert!(parse_window("31d").is_ok());
        assert!(parse_window("32d").unwrap_err().contains("1m to 31d"));
        assert!(parse_window("10s").is_err());
        assert!(parse_window("soon").unwrap_err().contains("`soon`"));
    }
}

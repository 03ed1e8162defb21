//! A cron expression read in a time zone: parsing it as `#[job(cron = …)]` does,
//! and which tick of it is due.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

use crate::{Error, Result};

/// A parsed cron expression and its time zone.
#[derive(Debug, Clone)]
pub(crate) struct CronSpec {
    cron: Cron,
    timezone: Tz,
}

/// The parser `#[job(cron = …)]` validates with too (kiribi-macros' `attr::cron`):
/// 5 fields (minute first), 6 (seconds first) or a nickname, never a year field.
fn parser() -> CronParser {
    CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build()
}

impl CronSpec {
    /// Reads `cron` in `timezone` (an IANA name such as `Asia/Tokyo`, or `UTC`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidOption`] naming `cron` or `timezone`, with the reason.
    pub(crate) fn parse(cron: &str, timezone: &str) -> Result<Self> {
        let parsed = parser().parse(cron).map_err(|error| Error::InvalidOption {
            option: "cron",
            reason: format!(
                "`{cron}`: {error}; write 5 fields (minute first), 6 fields (seconds first), \
                 or one of @hourly, @daily, @weekly, @monthly, @yearly"
            ),
        })?;
        let timezone = Tz::from_str(timezone).map_err(|_| Error::InvalidOption {
            option: "timezone",
            reason: format!(
                "`{timezone}` is not an IANA time zone; write one like \"UTC\", \
                 \"Europe/Berlin\" or \"Asia/Tokyo\""
            ),
        })?;
        let spec = Self {
            cron: parsed,
            timezone,
        };
        // An expression that parses but never matches (`0 0 30 2 *`) is as bad.
        spec.next_after(Utc::now())?;
        Ok(spec)
    }

    /// The first tick strictly after `at`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidOption`] for `cron` when it has no tick after `at`.
    pub(crate) fn next_after(&self, at: DateTime<Utc>) -> Result<DateTime<Utc>> {
        self.cron
            .find_next_occurrence(&at.with_timezone(&self.timezone), false)
            .map(|next| next.with_timezone(&Utc))
            .map_err(|error| Error::InvalidOption {
                option: "cron",
                reason: format!("`{}` has no time after {at}: {error}", self.cron.as_str()),
            })
    }

    /// The latest tick at or before `at`, if there is one.
    fn latest_until(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.cron
            .find_previous_occurrence(&at.with_timezone(&self.timezone), true)
            .ok()
            .map(|tick| tick.with_timezone(&Utc))
    }

    /// What to enqueue `now` for a schedule whose stored next tick is `next_run_at`:
    /// `None` before it; then the latest tick that has passed (older missed ticks
    /// are skipped) and the tick after it, the schedule's next.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidOption`] for `cron` when it has no tick after now.
    pub(crate) fn due(
        &self,
        next_run_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Option<(DateTime<Utc>, DateTime<Utc>)>> {
        if next_run_at > now {
            return Ok(None);
        }
        // The stored tick is one of the expression's; should it not be (a row
        // written by hand), it is still the one that is due.
        let tick = self
            .latest_until(now)
            .filter(|&latest| latest >= next_run_at)
            .unwrap_or(next_run_at);
        let next = self.next_after(now.max(tick))?;
        Ok(Some((tick, next)))
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    #[test]
    fn five_fields_start_with_the_minute_and_six_with_the_second() {
        let at = utc(2026, 12, 2, 10, 0, 0);
        let five = CronSpec::parse("30 * * * *", "UTC").unwrap();
        assert_eq!(five.next_after(at).unwrap(), utc(2026, 12, 2, 10, 30, 0));
        let six = CronSpec::parse("*/2 * * * * *", "UTC").unwrap();
        assert_eq!(six.next_after(at).unwrap(), utc(2026, 12, 2, 10, 0, 2));
    }

    #[test]
    fn nicknames_are_read() {
        let at = utc(2026, 12, 2, 10, 20, 0);
        let next = |cron| {
            CronSpec::parse(cron, "UTC")
                .unwrap()
                .next_after(at)
                .unwrap()
        };
        assert_eq!(next("@hourly"), utc(2026, 12, 2, 11, 0, 0));
        assert_eq!(next("@daily"), utc(2026, 12, 3, 0, 0, 0));
        assert_eq!(next("@weekly"), utc(2026, 12, 6, 0, 0, 0)); // a Sunday
        assert_eq!(next("@monthly"), utc(2027, 1, 1, 0, 0, 0));
        assert_eq!(next("@yearly"), utc(2027, 1, 1, 0, 0, 0));
    }

    #[test]
    fn bad_input_names_the_field() {
        for bad in ["0 3 * *", "61 * * * *", "* * * * * * *", "every day", ""] {
            let err = CronSpec::parse(bad, "UTC").unwrap_err();
            assert!(
                matches!(err, Error::InvalidOption { option: "cron", .. }),
                "{bad:?}: {err}"
            );
            assert!(err.to_string().contains("5 fields"), "{err}");
        }
        let err = CronSpec::parse("0 0 30 2 *", "UTC").unwrap_err();
        assert!(
            matches!(err, Error::InvalidOption { option: "cron", .. }),
            "{err}"
        );
        let err = CronSpec::parse("0 3 * * *", "Mars/Olympus").unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidOption {
                    option: "timezone",
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("`Mars/Olympus`"), "{err}");
    }

    #[test]
    fn the_time_zone_decides_the_wall_clock() {
        let spec = CronSpec::parse("0 9 * * 1-5", "Asia/Tokyo").unwrap();
        // Wednesday 2026-12-02 00:30 UTC is 09:30 in Tokyo: the next is Thursday 09:00.
        let next = spec.next_after(utc(2026, 12, 2, 0, 30, 0)).unwrap();
        assert_eq!(next, utc(2026, 12, 3, 0, 0, 0));
        // Friday 09:00 Tokyo is followed by Monday's.
        let next = spec.next_after(utc(2026, 12, 4, 0, 0, 0)).unwrap();
        assert_eq!(next, utc(2026, 12, 7, 0, 0, 0));
    }

    #[test]
    fn ticks_follow_daylight_saving_like_a_wall_clock() {
        let spec = CronSpec::parse("0 9 * * *", "Europe/Berlin").unwrap();
        // 09:00 CET is 08:00 UTC; after the change on 2026-03-29, 09:00 CEST is 07:00.
        let before = spec.next_after(utc(2026, 3, 28, 0, 0, 0)).unwrap();
        assert_eq!(before, utc(2026, 3, 28, 8, 0, 0));
        let after = spec.next_after(before).unwrap();
        assert_eq!(after, utc(2026, 3, 29, 7, 0, 0));
        // And back on 2026-10-25.
        let autumn = spec.next_after(utc(2026, 10, 25, 0, 0, 0)).unwrap();
        assert_eq!(autumn, utc(2026, 10, 25, 8, 0, 0));
    }

    #[test]
    fn a_repeated_wall_clock_hour_ticks_once() {
        // New York falls back on 2026-11-01: 01:30 happens twice; the day has one tick.
        let spec = CronSpec::parse("30 1 * * *", "America/New_York").unwrap();
        let first = spec.next_after(utc(2026, 11, 1, 0, 0, 0)).unwrap();
        let second = spec.next_after(first).unwrap();
        assert_eq!(first, utc(2026, 11, 1, 5, 30, 0)); // 01:30 EDT
        assert_eq!(second, utc(2026, 11, 2, 6, 30, 0)); // next day, 01:30 EST
    }

    #[test]
    fn only_the_latest_missed_tick_is_due() {
        let spec = CronSpec::parse("0 * * * *", "UTC").unwrap();
        let stored = utc(2026, 12, 2, 1, 0, 0);
        assert_eq!(spec.due(stored, utc(2026, 12, 2, 0, 59, 59)).unwrap(), None);
        assert_eq!(
            spec.due(stored, stored).unwrap(),
            Some((stored, utc(2026, 12, 2, 2, 0, 0)))
        );
        // Down from 00:30 to 04:10: 01:00, 02:00, 03:00 and 04:00 passed; only 04:00 runs.
        assert_eq!(
            spec.due(stored, utc(2026, 12, 2, 4, 10, 0)).unwrap(),
            Some((utc(2026, 12, 2, 4, 0, 0), utc(2026, 12, 2, 5, 0, 0)))
        );
    }
}

//! Backoff math: how long a failed job waits before its next attempt.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How the wait between attempts grows.
///
/// # Examples
///
/// ```
/// use kiribi_core::Backoff;
///
/// assert_eq!("linear".parse::<Backoff>().unwrap(), Backoff::Linear);
/// assert_eq!(Backoff::default(), Backoff::Exponential);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backoff {
    /// `retry_delay × 2^(n-1)` after the n-th failed attempt, with ±20 % jitter, capped
    /// at [`RetryPolicy::max_delay`].
    #[default]
    Exponential,
    /// `retry_delay` after every failed attempt.
    Fixed,
    /// `retry_delay × n` after the n-th failed attempt, capped at [`RetryPolicy::max_delay`].
    Linear,
}

impl Backoff {
    /// The name used in `#[job(backoff = "…")]`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Backoff::Exponential => "exponential",
            Backoff::Fixed => "fixed",
            Backoff::Linear => "linear",
        }
    }
}

impl fmt::Display for Backoff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// The error returned when a string names no backoff strategy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{input}` is not a backoff strategy: expected one of \"exponential\", \"fixed\", \"linear\""
)]
pub struct ParseBackoffError {
    input: String,
}

impl FromStr for Backoff {
    type Err = ParseBackoffError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "exponential" => Ok(Backoff::Exponential),
            "fixed" => Ok(Backoff::Fixed),
            "linear" => Ok(Backoff::Linear),
            _ => Err(ParseBackoffError {
                input: s.to_owned(),
            }),
        }
    }
}

/// A job's retry rules: the backoff strategy, its base delay and its cap.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use kiribi_core::{Backoff, RetryPolicy};
///
/// let policy = RetryPolicy::new(Backoff::Fixed, Duration::from_secs(2));
/// assert_eq!(policy.delay_after(1), Duration::from_secs(2));
/// assert_eq!(policy.delay_after(7), Duration::from_secs(2));
///
/// let linear = RetryPolicy::new(Backoff::Linear, Duration::from_secs(2));
/// assert_eq!(linear.delay_after(3), Duration::from_secs(6));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// How the delay grows with each failed attempt.
    pub backoff: Backoff,
    /// The delay after the first failed attempt.
    pub retry_delay: Duration,
    /// No delay is longer than this.
    pub max_delay: Duration,
}

impl RetryPolicy {
    /// The cap on any single delay unless set otherwise: one hour.
    pub const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(3600);

    /// A policy with the default cap of one hour.
    pub const fn new(backoff: Backoff, retry_delay: Duration) -> Self {
        Self {
            backoff,
            retry_delay,
            max_delay: Self::DEFAULT_MAX_DELAY,
        }
    }

    /// Returns the policy with another cap.
    pub const fn with_max_delay(mut self, max_delay: Duration) -> Self {
        self.max_delay = max_delay;
        self
    }

    /// How long to wait after the `attempt`-th attempt (1-based) failed.
    ///
    /// Exponential delays carry ±20 % random jitter so that jobs which failed together
    /// do not all retry in the same instant; the cap applies after jitter.
    pub fn delay_after(&self, attempt: u32) -> Duration {
        let n = attempt.max(1);
        let delay = match self.backoff {
            Backoff::Fixed => self.retry_delay,
            Backoff::Linear => self.retry_delay.saturating_mul(n),
            Backoff::Exponential => {
                // 2^(n-1) overflows u32 past n = 32; the cap is reached long before.
                let factor = 1u32.checked_shl(n - 1).unwrap_or(u32::MAX);
                let base = self.retry_delay.saturating_mul(factor);
                base.mul_f64(fastrand::f64().mul_add(0.4, 0.8))
            }
        };
        // A fixed delay is what the user asked for, even when it exceeds the cap.
        if self.backoff == Backoff::Fixed {
            delay
        } else {
            delay.min(self.max_delay)
        }
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self::new(Backoff::Exponential, Duration::from_secs(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exponential_doubles_within_jitter() {
        let policy = RetryPolicy::new(Backoff::Exponential, Duration::from_secs(1));
        for attempt in 1..=6u32 {
            let nominal = Duration::from_secs(1u64 << (attempt - 1));
            for _ in 0..50 {
                let d = policy.delay_after(attempt);
                assert!(
                    d >= nominal.mul_f64(0.8) && d <= nominal.mul_f64(1.2),
                    "{attempt}: {d:?}"
                );
            }
        }
    }

    #[test]
    fn exponential_is_capped_even_for_huge_attempt_numbers() {
        let policy = RetryPolicy::new(Backoff::Exponential, Duration::from_secs(1))
            .with_max_delay(Duration::from_secs(60));
        assert_eq!(policy.delay_after(40), Duration::from_secs(60));
        assert_eq!(policy.delay_after(u32::MAX), Duration::from_secs(60));
    }

    #[test]
    fn linear_grows_by_the_base_and_is_capped() {
        let policy = RetryPolicy::new(Backoff::Linear, Duration::from_millis(500))
            .with_max_delay(Duration::from_secs(2));
        assert_eq!(policy.delay_after(1), Duration::from_millis(500));
        assert_eq!(policy.delay_after(2), Duration::from_secs(1));
        assert_eq!(policy.delay_after(100), Duration::from_secs(2));
    }

    #[test]
    fn attempt_zero_is_treated_as_the_first() {
        let policy = RetryPolicy::new(Backoff::Linear, Duration::from_secs(3));
        assert_eq!(policy.delay_after(0), Duration::from_secs(3));
    }
}

//! Limits: what `#[job(concurrency = …, concurrency_key = …, rate_limit = …)]` and
//! `EnqueueOptions::concurrency_key` store with a job, so that claims hold them
//! (see the `Storage` contract).
//!
//! A job's group is its name and its limit key: the value of its `concurrency_key`
//! field (a string as it is, any other value as its JSON text), the key set by hand,
//! or `""` when the limits hold for the name as a whole.

use kiribi_core::backend::JobLimits;

use crate::job::JobConfig;
use crate::{EnqueueOptions, Error, Result};

/// The limits of a job of `config` with `payload`, enqueued with `options`; `None`
/// for a job without limits.
///
/// # Errors
///
/// [`Error::InvalidOption`] for a `concurrency_key` option on a job without
/// limits, and for a key field missing from the payload.
pub(crate) fn limits(
    config: &JobConfig,
    payload: &serde_json::Value,
    options: Option<&EnqueueOptions>,
) -> Result<Option<JobLimits>> {
    let by_hand = options.and_then(EnqueueOptions::get_concurrency_key);
    if !config.is_limited() {
        return match by_hand {
            Some(_) => Err(Error::InvalidOption {
                option: "concurrency_key",
                reason: format!(
                    "job `{}` has no `concurrency` or `rate_limit` for a key to apply to",
                    config.name
                ),
            }),
            None => Ok(None),
        };
    }
    let key = match (by_hand, config.concurrency_key) {
        (Some(key), _) => key.to_owned(),
        (None, Some(field)) => match payload.get(field) {
            Some(serde_json::Value::String(text)) => text.clone(),
            Some(value) => value.to_string(),
            None => {
                return Err(Error::InvalidOption {
                    option: "concurrency_key",
                    reason: format!(
                        "job `{}` counts its limits per field `{field}`, which its payload \
                         does not have",
                        config.name
                    ),
                });
            }
        },
        (None, None) => String::new(),
    };
    let mut limits = JobLimits::new(key);
    if let Some(concurrency) = config.concurrency {
        limits = limits.with_concurrency(concurrency);
    }
    if let Some(rate) = config.rate_limit {
        limits = limits.with_rate(rate);
    }
    Ok(Some(limits))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use kiribi_core::backend::RateLimit;

    use super::*;

    const CONFIG: JobConfig = JobConfig::new("charge");

    #[test]
    fn jobs_without_limits_have_none_and_refuse_a_key() {
        let payload = serde_json::json!({ "account_id": 7 });
        assert_eq!(limits(&CONFIG, &payload, None).unwrap(), None);
        let keyed = EnqueueOptions::new().concurrency_key("7");
        assert!(matches!(
            limits(&CONFIG, &payload, Some(&keyed)),
            Err(Error::InvalidOption {
                option: "concurrency_key",
                ..
            })
        ));
    }

    #[test]
    fn the_key_comes_from_the_field_or_by_hand() {
        let config = CONFIG
            .concurrency(2)
            .concurrency_key("account_id")
            .rate_limit(RateLimit::new(10, Duration::from_secs(1)));
        let of = |payload, options: Option<&EnqueueOptions>| {
            limits(&config, &payload, options).unwrap().unwrap()
        };
        let number = of(serde_json::json!({ "account_id": 7 }), None);
        assert_eq!(number.key, "7");
        assert_eq!(number.concurrency, Some(2));
        assert_eq!(
            number.rate,
            Some(RateLimit::new(10, Duration::from_secs(1)))
        );
        assert_eq!(
            of(serde_json::json!({ "account_id": "eu-7" }), None).key,
            "eu-7"
        );
        let by_hand = EnqueueOptions::new().concurrency_key("shared");
        assert_eq!(
            of(serde_json::json!({ "account_id": 7 }), Some(&by_hand)).key,
            "shared"
        );
        let missing = limits(&config, &serde_json::json!({ "id": 7 }), None);
        assert!(matches!(
            missing,
            Err(Error::InvalidOption {
                option: "concurrency_key",
                ..
            })
        ));
        let whole = limits(&CONFIG.concurrency(1), &serde_json::json!({}), None);
        assert_eq!(whole.unwrap().unwrap().key, "");
    }
}

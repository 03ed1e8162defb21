//! Unique keys: what `#[job(unique)]` and `EnqueueOptions::unique_key` store with a
//! job, so that the database refuses a second job of the same name and key (see
//! the `Storage` contract).
//!
//! A key made of the payload (or of some of its fields) is the SHA-256 of their JSON,
//! shortened to 128 bits and written in hex: the same arguments make the same key in
//! every process and every version, and a payload of any size makes a short key. A
//! key for a period ends with the start of its window, `@` and the window's start in
//! RFC 3339, and is held in every state, so that one job per window is enqueued.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use kiribi_core::backend::UniqueKey;
use sha2::{Digest, Sha256};

use crate::job::{JobConfig, Unique};
use crate::{EnqueueOptions, Error, Result};

/// The unique key of a job of `config` with `payload`, enqueued at `now` with
/// `options`; `None` for a job that is not unique.
///
/// # Errors
///
/// [`Error::InvalidOption`] for a `unique_period` without a key, and for key
/// fields missing from the payload (a payload type that changed its fields without
/// its `#[job(unique(fields = …))]`).
pub(crate) fn unique_key(
    config: &JobConfig,
    payload: &serde_json::Value,
    options: Option<&EnqueueOptions>,
    now: DateTime<Utc>,
) -> Result<Option<UniqueKey>> {
    let by_hand = options.and_then(EnqueueOptions::get_unique_key);
    let period = options
        .and_then(EnqueueOptions::get_unique_period)
        .or_else(|| config.unique.and_then(|unique| unique.period));
    let key = match (by_hand, config.unique) {
        (Some(key), _) => key.to_owned(),
        (None, Some(unique)) => payload_key(config.name, &unique, payload)?,
        (None, None) if period.is_some() => {
            return Err(Error::InvalidOption {
                option: "unique_period",
                reason: format!(
                    "job `{}` has no unique key to hold for a period: set `unique_key` \
                     or declare the job `#[job(unique)]`",
                    config.name
                ),
            });
        }
        (None, None) => return Ok(None),
    };
    Ok(Some(match period {
        Some(period) => UniqueKey::in_any_state(format!("{key}@{}", window_start(now, period))),
        None => UniqueKey::while_unfinished(key),
    }))
}

/// The key made of the payload, or of the fields `unique` names.
fn payload_key(name: &str, unique: &Unique, payload: &serde_json::Value) -> Result<String> {
    let hashed = match unique.fields {
        None => canonical(payload),
        Some(fields) => {
            let values = fields
                .iter()
                .map(|field| {
                    payload.get(field).ok_or_else(|| Error::InvalidOption {
                        option: "unique",
                        reason: format!(
                            "job `{name}` is unique by field `{field}`, which its payload \
                             does not have"
                        ),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            canonical(&serde_json::Value::from(
                values.into_iter().cloned().collect::<Vec<_>>(),
            ))
        }
    };
    let digest = Sha256::digest(hashed.as_bytes());
    Ok(digest[..16]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect())
}

/// `value` as JSON text with every object's keys sorted: the same text whatever
/// order a map keeps (serde_json's `preserve_order` feature, which any crate in a
/// build can turn on, keeps insertion order).
fn canonical(value: &serde_json::Value) -> String {
    fn write(value: &serde_json::Value, out: &mut String) {
        match value {
            serde_json::Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
                out.push('{');
                for (n, (key, value)) in entries.into_iter().enumerate() {
                    if n > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::Value::from(key.as_str()).to_string());
                    out.push(':');
                    write(value, out);
                }
                out.push('}');
            }
            serde_json::Value::Array(items) => {
                out.push('[');
                for (n, item) in items.iter().enumerate() {
                    if n > 0 {
                        out.push(',');
                    }
                    write(item, out);
                }
                out.push(']');
            }
            scalar => out.push_str(&scalar.to_string()),
        }
    }
    let mut out = String::new();
    write(value, &mut out);
    out
}

/// The start of the window of length `period` (aligned to the Unix epoch) that
/// holds `now`, in RFC 3339.
fn window_start(now: DateTime<Utc>, period: Duration) -> String {
    let period_ms = i64::try_from(period.as_millis()).unwrap_or(i64::MAX).max(1);
    let now_ms = now.timestamp_millis();
    let start_ms = now_ms - now_ms.rem_euclid(period_ms);
    let start = DateTime::UNIX_EPOCH + TimeDelta::milliseconds(start_ms);
    start.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: JobConfig = JobConfig::new("digest");

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn jobs_that_are_not_unique_have_no_key() {
        let payload = serde_json::json!({ "user_id": 7 });
        assert_eq!(
            unique_key(&CONFIG, &payload, None, Utc::now()).unwrap(),
            None
        );
    }

    #[test]
    fn the_payload_key_is_stable_and_depends_on_every_field() {
        let config = CONFIG.unique(Unique::payload());
        let key = |payload| {
            unique_key(&config, &payload, None, Utc::now())
                .unwrap()
                .unwrap()
        };
        let seven = key(serde_json::json!({ "user_id": 7, "full": true }));
        assert!(!seven.in_any_state);
        // The SHA-256 of `{"full":true,"user_id":7}` (`sha256sum`), first 16
        // bytes: fixed, so that every process and version agrees.
        assert_eq!(seven.key, "813b2c582d7ba51f9fb5870b3bd50c8d");
        assert_ne!(
            key(serde_json::json!({ "user_id": 7, "full": false })),
            seven
        );
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_depth() {
        let mut map = serde_json::Map::new();
        map.insert("b".into(), serde_json::json!([{ "z": 1, "a": "x\"y" }]));
        map.insert("a".into(), serde_json::json!(null));
        assert_eq!(
            canonical(&serde_json::Value::Object(map)),
            r#"{"a":null,"b":[{"a":"x\"y","z":1}]}"#
        );
    }

    #[test]
    fn a_field_key_ignores_the_other_fields() {
        let config = CONFIG.unique(Unique::fields(&["user_id"]));
        let key = |payload| unique_key(&config, &payload, None, Utc::now()).unwrap();
        assert_eq!(
            key(serde_json::json!({ "user_id": 7, "note": "a" })),
            key(serde_json::json!({ "user_id": 7, "note": "b" }))
        );
        assert_ne!(
            key(serde_json::json!({ "user_id": 7, "note": "a" })),
            key(serde_json::json!({ "user_id": 8, "note": "a" }))
        );
        let missing = unique_key(&config, &serde_json::json!({ "id": 7 }), None, Utc::now());
        assert!(matches!(
            missing,
            Err(Error::InvalidOption {
                option: "unique",
                ..
            })
        ));
    }

    #[test]
    fn a_period_key_names_its_window_and_is_held_in_any_state() {
        let config = CONFIG.unique(Unique::fields(&["user_id"]).period(Duration::from_secs(3600)));
        let payload = serde_json::json!({ "user_id": 7 });
        let key = |now| {
            unique_key(&config, &payload, None, at(now))
                .unwrap()
                .unwrap()
        };
        let early = key("2026-12-02T03:00:00Z");
        assert!(early.in_any_state);
        assert!(
            early.key.ends_with("@2026-12-02T03:00:00.000Z"),
            "{}",
            early.key
        );
        assert_eq!(key("2026-12-02T03:59:59.999Z"), early);
        assert_ne!(key("2026-12-02T04:00:00Z"), early);
    }

    #[test]
    fn options_set_the_key_and_the_period_by_hand() {
        let payload = serde_json::json!({ "user_id": 7 });
        let now = at("2026-12-02T03:10:00Z");
        let by_hand = EnqueueOptions::new().unique_key("order:42");
        let key = unique_key(&CONFIG, &payload, Some(&by_hand), now)
            .unwrap()
            .unwrap();
        assert_eq!(key, UniqueKey::while_unfinished("order:42"));
        let windowed = by_hand.unique_period(Duration::from_secs(60));
        let key = unique_key(&CONFIG, &payload, Some(&windowed), now)
            .unwrap()
            .unwrap();
        assert_eq!(
            key,
            UniqueKey::in_any_state("order:42@2026-12-02T03:10:00.000Z")
        );
        let without_key = EnqueueOptions::new().unique_period(Duration::from_secs(60));
        let refused = unique_key(&CONFIG, &payload, Some(&without_key), now);
        assert!(matches!(
            refused,
            Err(Error::InvalidOption {
                option: "unique_period",
                ..
            })
        ));
    }
}

//! `key = value, …` inside `#[job(…)]` → [`Config`]: keys, the set-once helper, values.

use std::time::Duration;

use proc_macro2::{Span, TokenStream};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, ExprUnary, Ident, Lit, Meta, Token, UnOp};

use super::{Backoff, Config, Errors};

/// The keys `#[job(…)]` accepts today, in the order the docs list them.
pub(crate) const KEYS: &[&str] = &[
    "name",
    "queue",
    "max_attempts",
    "backoff",
    "retry_delay",
    "timeout",
    "priority",
];

/// Keys that DESIGN.md promises for later; rejected with "not supported yet".
const RESERVED_KEYS: &[&str] = &["cron", "unique", "concurrency"];

/// The backoff strategies, as written in the attribute.
const BACKOFFS: &[&str] = &["exponential", "fixed", "linear"];

/// An attribute value that may be given at most once: the one duplicate check.
struct Once<T> {
    seen: bool,
    value: Option<T>,
}

impl<T> Default for Once<T> {
    fn default() -> Self {
        Self {
            seen: false,
            value: None,
        }
    }
}

impl<T> Once<T> {
    /// Records `key = value`; `parse` runs only for the first occurrence, so a
    /// duplicate is reported once, at the repeated key.
    fn set(&mut self, key: &Ident, parse: impl FnOnce() -> syn::Result<T>) -> syn::Result<()> {
        if self.seen {
            return Err(syn::Error::new(key.span(), format!("duplicate `{key}`")));
        }
        self.seen = true;
        self.value = Some(parse()?);
        Ok(())
    }
}

/// `key = value, …` → [`Config`] (with an empty `name` when none was given).
pub(super) fn parse_args(attr: TokenStream) -> syn::Result<Config> {
    let metas = Punctuated::<Meta, Token![,]>::parse_terminated.parse2(attr)?;

    let mut name = Once::default();
    let mut queue = Once::default();
    let mut max_attempts = Once::default();
    let mut backoff = Once::default();
    let mut retry_delay = Once::default();
    let mut timeout = Once::default();
    let mut priority = Once::default();

    let mut errors = Errors::default();
    for meta in metas {
        let Some(key) = meta.path().get_ident().cloned() else {
            errors.push(syn::Error::new_spanned(
                meta.path(),
                unknown_key_message(meta.path()),
            ));
            continue;
        };
        let key_str = key.to_string();
        if RESERVED_KEYS.contains(&key_str.as_str()) {
            errors.push(syn::Error::new(
                key.span(),
                format!("`{key}` is not supported yet"),
            ));
            continue;
        }
        if !KEYS.contains(&key_str.as_str()) {
            errors.push(syn::Error::new(key.span(), unknown_key_message(&key)));
            continue;
        }
        let value = match meta {
            Meta::NameValue(nv) => nv.value,
            Meta::Path(_) => {
                errors.push(syn::Error::new(
                    key.span(),
                    format!("`{key}` needs a value: `{key} = {}`", example(&key_str)),
                ));
                continue;
            }
            Meta::List(list) => {
                errors.push(syn::Error::new_spanned(
                    &list,
                    format!("expected `{key} = {}`", example(&key_str)),
                ));
                continue;
            }
        };
        let result = match key_str.as_str() {
            "name" => name.set(&key, || non_empty_string(&key, &value)),
            "queue" => queue.set(&key, || non_empty_string(&key, &value)),
            "max_attempts" => max_attempts.set(&key, || parse_max_attempts(&value)),
            "backoff" => backoff.set(&key, || parse_backoff(&value)),
            "retry_delay" => retry_delay.set(&key, || parse_duration(&key, &value, true)),
            "timeout" => timeout.set(&key, || parse_duration(&key, &value, false)),
            "priority" => priority.set(&key, || parse_priority(&value)),
            _ => Err(syn::Error::new(key.span(), unknown_key_message(&key))),
        };
        errors.extend(result);
    }
    errors.finish()?;

    Ok(Config {
        name: name.value.unwrap_or_default(),
        queue: queue.value,
        max_attempts: max_attempts.value,
        backoff: backoff.value,
        retry_delay: retry_delay.value,
        timeout: timeout.value,
        priority: priority.value,
    })
}

fn unknown_key_message(key: &dyn quote::ToTokens) -> String {
    let key = key.to_token_stream().to_string().replace(' ', "");
    let valid = KEYS
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ");
    format!("unknown key `{key}`; expected one of {valid}")
}

/// A valid value for each key, shown in error messages.
fn example(key: &str) -> &'static str {
    match key {
        "name" => "\"media.resize\"",
        "queue" => "\"media\"",
        "max_attempts" => "5",
        "backoff" => "\"exponential\"",
        "retry_delay" => "\"2s\"",
        "timeout" => "\"30s\"",
        "priority" => "10",
        _ => "…",
    }
}

fn string_literal(key: &Ident, value: &Expr) -> syn::Result<(String, Span)> {
    match value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Ok((s.value(), s.span())),
        _ => Err(syn::Error::new_spanned(
            value,
            format!(
                "expected a string literal for `{key}`, like `{key} = {}`",
                example(&key.to_string())
            ),
        )),
    }
}

fn non_empty_string(key: &Ident, value: &Expr) -> syn::Result<String> {
    let (text, span) = string_literal(key, value)?;
    if text.trim().is_empty() {
        return Err(syn::Error::new(span, format!("`{key}` cannot be empty")));
    }
    Ok(text)
}

fn parse_backoff(value: &Expr) -> syn::Result<Backoff> {
    let expected = BACKOFFS
        .iter()
        .map(|b| format!("\"{b}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let key = Ident::new("backoff", Span::call_site());
    let (text, span) = string_literal(&key, value).map_err(|_| {
        syn::Error::new_spanned(
            value,
            format!("expected a string literal for `backoff`: one of {expected}"),
        )
    })?;
    match text.as_str() {
        "exponential" => Ok(Backoff::Exponential),
        "fixed" => Ok(Backoff::Fixed),
        "linear" => Ok(Backoff::Linear),
        _ => Err(syn::Error::new(
            span,
            format!("unknown backoff `{text}`; expected one of {expected}"),
        )),
    }
}

fn parse_duration(key: &Ident, value: &Expr, allow_zero: bool) -> syn::Result<Duration> {
    let (text, span) = string_literal(key, value)?;
    let duration = humantime::parse_duration(&text).map_err(|err| {
        syn::Error::new(
            span,
            format!(
                "invalid duration for `{key}`: {err}; write it like \"250ms\", \"30s\" or \"5m\""
            ),
        )
    })?;
    if !allow_zero && duration.is_zero() {
        return Err(syn::Error::new(
            span,
            format!("`{key}` must be longer than zero"),
        ));
    }
    Ok(duration)
}

/// An integer literal, optionally negated, as an `i128` (wide enough for any check).
fn integer(key: &str, value: &Expr) -> syn::Result<i128> {
    let error = || {
        syn::Error::new_spanned(
            value,
            format!(
                "expected an integer literal for `{key}`, like `{key} = {}`",
                example(key)
            ),
        )
    };
    let (negative, lit) = match value {
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) => (false, int),
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr,
            ..
        }) => match &**expr {
            Expr::Lit(ExprLit {
                lit: Lit::Int(int), ..
            }) => (true, int),
            _ => return Err(error()),
        },
        _ => return Err(error()),
    };
    let magnitude: i128 = lit
        .base10_digits()
        .parse()
        .map_err(|_| syn::Error::new(lit.span(), format!("`{key}` is out of range")))?;
    Ok(if negative { -magnitude } else { magnitude })
}

fn parse_max_attempts(value: &Expr) -> syn::Result<u32> {
    let n = integer("max_attempts", value)?;
    if n < 1 {
        return Err(syn::Error::new_spanned(
            value,
            "`max_attempts` must be at least 1 (it counts the first attempt)",
        ));
    }
    u32::try_from(n).map_err(|_| {
        syn::Error::new_spanned(
            value,
            format!("`max_attempts` must be at most {}", u32::MAX),
        )
    })
}

fn parse_priority(value: &Expr) -> syn::Result<i32> {
    let n = integer("priority", value)?;
    i32::try_from(n).map_err(|_| {
        syn::Error::new_spanned(
            value,
            format!(
                "`priority` must fit in an `i32` ({} to {})",
                i32::MIN,
                i32::MAX
            ),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::tests::{job_fn, parse_err, parse_ok};
    use quote::quote;

    #[test]
    fn every_key_is_read() {
        let def = parse_ok(
            quote!(
                queue = "media",
                max_attempts = 5,
                backoff = "linear",
                retry_delay = "2s",
                timeout = "1m 30s",
                priority = -10,
                name = "media.resize"
            ),
            job_fn(),
        );
        assert_eq!(
            def.config,
            Config {
                name: "media.resize".into(),
                queue: Some("media".into()),
                max_attempts: Some(5),
                backoff: Some(Backoff::Linear),
                retry_delay: Some(Duration::from_secs(2)),
                timeout: Some(Duration::from_secs(90)),
                priority: Some(-10),
            }
        );
    }

    #[test]
    fn unknown_key_lists_the_valid_ones() {
        let errs = parse_err(quote!(retries = 3), job_fn());
        assert_eq!(
            errs,
            [
                "unknown key `retries`; expected one of `name`, `queue`, `max_attempts`, \
              `backoff`, `retry_delay`, `timeout`, `priority`"
            ]
        );
    }

    #[test]
    fn duplicate_keys_are_rejected_once() {
        let errs = parse_err(quote!(queue = "a", queue = "b", queue = "c"), job_fn());
        assert_eq!(errs, ["duplicate `queue`", "duplicate `queue`"]);
    }

    #[test]
    fn reserved_keys_are_not_supported_yet() {
        let errs = parse_err(
            quote!(cron = "0 * * * *", unique, concurrency = 2),
            job_fn(),
        );
        assert_eq!(
            errs,
            [
                "`cron` is not supported yet",
                "`unique` is not supported yet",
                "`concurrency` is not supported yet",
            ]
        );
    }

    #[test]
    fn bad_values_are_each_reported() {
        let errs = parse_err(
            quote!(
                name = "",
                queue = 3,
                max_attempts = 0,
                backoff = "random",
                retry_delay = "2 parsecs",
                timeout = "0s",
                priority = 3000000000
            ),
            job_fn(),
        );
        assert_eq!(errs.len(), 7, "{errs:#?}");
        assert_eq!(errs[0], "`name` cannot be empty");
        assert!(
            errs[1].starts_with("expected a string literal for `queue`"),
            "{}",
            errs[1]
        );
        assert!(
            errs[2].starts_with("`max_attempts` must be at least 1"),
            "{}",
            errs[2]
        );
        assert_eq!(
            errs[3],
            "unknown backoff `random`; expected one of \"exponential\", \"fixed\", \"linear\""
        );
        assert!(
            errs[4].starts_with("invalid duration for `retry_delay`"),
            "{}",
            errs[4]
        );
        assert_eq!(errs[5], "`timeout` must be longer than zero");
        assert!(
            errs[6].starts_with("`priority` must fit in an `i32`"),
            "{}",
            errs[6]
        );
    }

    #[test]
    fn extreme_integers_are_accepted() {
        let def = parse_ok(
            quote!(priority = -2147483648, max_attempts = 4294967295),
            job_fn(),
        );
        assert_eq!(def.config.priority, Some(i32::MIN));
        assert_eq!(def.config.max_attempts, Some(u32::MAX));
        let errs = parse_err(quote!(max_attempts = 4294967296), job_fn());
        assert!(
            errs[0].starts_with("`max_attempts` must be at most"),
            "{errs:?}"
        );
    }

    #[test]
    fn keys_need_values() {
        let errs = parse_err(quote!(queue, timeout("1s")), job_fn());
        assert_eq!(
            errs,
            [
                "`queue` needs a value: `queue = \"media\"`",
                "expected `timeout = \"30s\"`"
            ]
        );
    }
}

//! `key = value, …` inside `#[job(…)]` → [`Attr`]: the dispatch through the table of
//! keys, the set-once helper, and the parser of each kind of value.

use std::time::Duration;

use proc_macro2::TokenStream;
use syn::parse::Parser as _;
use syn::punctuated::Punctuated;
use syn::{Expr, ExprLit, ExprUnary, Ident, Lit, LitStr, Meta, Token, UnOp};

use super::keys::{self, Key, Parser};
use super::{Backoff, Config, Errors, UniqueDef};

/// The backoff strategies, as written in the attribute.
const BACKOFFS: &[&str] = &["exponential", "fixed", "linear"];

/// What `#[job(…)]` says.
#[derive(Debug)]
pub(super) struct Attr {
    /// The job's configuration, with an empty `name` when none was given.
    pub(super) config: Config,
    /// `crate = "…"`: where the generated code finds kiribi.
    pub(super) crate_path: Option<syn::Path>,
    /// `cron = "…"`, validated, as written (for the span of later checks).
    pub(super) cron: Option<LitStr>,
    /// `timezone = "…"`, validated, as written.
    pub(super) timezone: Option<LitStr>,
}

/// One `key = value` being read: a [`Key`] of the table, where it was written and
/// its value.
pub(crate) struct Entry<'a> {
    pub(crate) key: &'static Key,
    pub(crate) ident: &'a Ident,
    pub(crate) value: &'a Expr,
}

/// A key read in whichever form it was written: `key`, `key(…)` or `key = value`.
pub(crate) struct MetaEntry<'a> {
    pub(crate) key: &'static Key,
    pub(crate) ident: &'a Ident,
    pub(crate) meta: &'a Meta,
}

/// The values read so far, one set-once field per key of [`KEYS`](super::keys::KEYS).
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) name: Once<String>,
    pub(crate) queue: Once<String>,
    pub(crate) max_attempts: Once<u32>,
    pub(crate) backoff: Once<Backoff>,
    pub(crate) retry_delay: Once<Duration>,
    pub(crate) timeout: Once<Duration>,
    pub(crate) priority: Once<i32>,
    pub(crate) crate_path: Once<syn::Path>,
    pub(crate) unique: Once<UniqueDef>,
    pub(crate) concurrency: Once<u32>,
    pub(crate) concurrency_key: Once<Ident>,
    pub(crate) rate_limit: Once<(u32, Duration)>,
    pub(crate) cron: Once<LitStr>,
    pub(crate) timezone: Once<LitStr>,
}

/// An attribute value that may be given at most once: the one duplicate check.
pub(crate) struct Once<T> {
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
    pub(crate) fn set(
        &mut self,
        entry: &Entry<'_>,
        parse: impl FnOnce(&Entry<'_>) -> syn::Result<T>,
    ) -> syn::Result<()> {
        self.set_once(entry.key, entry.ident, || parse(entry))
    }

    /// [`set`](Self::set) for a key read in any form.
    pub(crate) fn set_meta(
        &mut self,
        entry: &MetaEntry<'_>,
        parse: impl FnOnce(&MetaEntry<'_>) -> syn::Result<T>,
    ) -> syn::Result<()> {
        self.set_once(entry.key, entry.ident, || parse(entry))
    }

    fn set_once(
        &mut self,
        key: &Key,
        ident: &Ident,
        parse: impl FnOnce() -> syn::Result<T>,
    ) -> syn::Result<()> {
        if self.seen {
            return Err(syn::Error::new(
                ident.span(),
                format!("duplicate `{}`", key.name),
            ));
        }
        self.seen = true;
        self.value = Some(parse()?);
        Ok(())
    }
}

/// `key = value, …` → [`Attr`], reporting every bad key and value at once.
pub(super) fn parse_args(attr: TokenStream) -> syn::Result<Attr> {
    let metas = Punctuated::<Meta, Token![,]>::parse_terminated.parse2(attr)?;
    let mut args = Args::default();
    let mut errors = Errors::default();
    for meta in metas {
        let found = meta
            .path()
            .get_ident()
            .and_then(|ident| Some((ident, keys::find(&ident.to_string())?)));
        let Some((ident, key)) = found else {
            errors.push(syn::Error::new_spanned(
                meta.path(),
                unknown_key_message(meta.path()),
            ));
            continue;
        };
        let parse = match key.parser {
            Parser::Value(parse) => parse,
            Parser::Meta(parse) => {
                errors.extend(parse(
                    &mut args,
                    &MetaEntry {
                        key,
                        ident,
                        meta: &meta,
                    },
                ));
                continue;
            }
        };
        let value = match &meta {
            Meta::NameValue(name_value) => &name_value.value,
            Meta::Path(_) => {
                errors.push(syn::Error::new(
                    ident.span(),
                    format!("`{ident}` needs a value: `{ident} = {}`", key.example),
                ));
                continue;
            }
            Meta::List(list) => {
                errors.push(syn::Error::new_spanned(
                    list,
                    format!("expected `{ident} = {}`", key.example),
                ));
                continue;
            }
        };
        errors.extend(parse(&mut args, &Entry { key, ident, value }));
    }
    errors.finish()?;

    Ok(Attr {
        config: Config {
            name: args.name.value.unwrap_or_default(),
            queue: args.queue.value,
            max_attempts: args.max_attempts.value,
            backoff: args.backoff.value,
            retry_delay: args.retry_delay.value,
            timeout: args.timeout.value,
            priority: args.priority.value,
            unique: args.unique.value,
            concurrency: args.concurrency.value,
            concurrency_key: args.concurrency_key.value,
            rate_limit: args.rate_limit.value,
            cron: args.cron.value.as_ref().map(LitStr::value),
            timezone: args.timezone.value.as_ref().map(LitStr::value),
        },
        crate_path: args.crate_path.value,
        cron: args.cron.value,
        timezone: args.timezone.value,
    })
}

fn unknown_key_message(key: &syn::Path) -> String {
    let key = quote::ToTokens::to_token_stream(key)
        .to_string()
        .replace(' ', "");
    let valid = keys::supported()
        .map(|key| format!("`{}`", key.name))
        .collect::<Vec<_>>()
        .join(", ");
    format!("unknown key `{key}`; expected one of {valid}")
}

fn string_literal(entry: &Entry<'_>) -> syn::Result<LitStr> {
    match entry.value {
        Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        }) => Ok(s.clone()),
        value => {
            let Key { name, example, .. } = entry.key;
            Err(syn::Error::new_spanned(
                value,
                format!("expected a string literal for `{name}`, like `{name} = {example}`"),
            ))
        }
    }
}

pub(crate) fn non_empty_string(entry: &Entry<'_>) -> syn::Result<String> {
    let lit = string_literal(entry)?;
    let text = lit.value();
    if text.trim().is_empty() {
        return Err(syn::Error::new(
            lit.span(),
            format!("`{}` cannot be empty", entry.key.name),
        ));
    }
    Ok(text)
}

pub(crate) fn backoff(entry: &Entry<'_>) -> syn::Result<Backoff> {
    let expected = BACKOFFS
        .iter()
        .map(|b| format!("\"{b}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let lit = string_literal(entry).map_err(|_| {
        syn::Error::new_spanned(
            entry.value,
            format!("expected a string literal for `backoff`: one of {expected}"),
        )
    })?;
    match lit.value().as_str() {
        "exponential" => Ok(Backoff::Exponential),
        "fixed" => Ok(Backoff::Fixed),
        "linear" => Ok(Backoff::Linear),
        text => Err(syn::Error::new(
            lit.span(),
            format!("unknown backoff `{text}`; expected one of {expected}"),
        )),
    }
}

/// Whether a zero duration makes sense for a key.
pub(crate) enum Zero {
    Allowed,
    Rejected,
}

pub(crate) fn duration(entry: &Entry<'_>, zero: Zero) -> syn::Result<Duration> {
    let name = entry.key.name;
    let lit = string_literal(entry)?;
    let duration = humantime::parse_duration(&lit.value()).map_err(|err| {
        syn::Error::new(
            lit.span(),
            format!(
                "invalid duration for `{name}`: {err}; write it like \"250ms\", \"30s\" or \"5m\""
            ),
        )
    })?;
    if matches!(zero, Zero::Rejected) && duration.is_zero() {
        return Err(syn::Error::new(
            lit.span(),
            format!("`{name}` must be longer than zero"),
        ));
    }
    Ok(duration)
}

/// An integer literal, optionally negated, as an `i128` (wide enough for any check).
fn integer(entry: &Entry<'_>) -> syn::Result<i128> {
    let Key { name, example, .. } = entry.key;
    let error = || {
        syn::Error::new_spanned(
            entry.value,
            format!("expected an integer literal for `{name}`, like `{name} = {example}`"),
        )
    };
    let (negative, lit) = match entry.value {
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
        .map_err(|_| syn::Error::new(lit.span(), format!("`{name}` is out of range")))?;
    Ok(if negative { -magnitude } else { magnitude })
}

pub(crate) fn max_attempts(entry: &Entry<'_>) -> syn::Result<u32> {
    let n = integer(entry)?;
    if n < 1 {
        return Err(syn::Error::new_spanned(
            entry.value,
            "`max_attempts` must be at least 1 (it counts the first attempt)",
        ));
    }
    u32::try_from(n).map_err(|_| {
        syn::Error::new_spanned(
            entry.value,
            format!("`max_attempts` must be at most {}", u32::MAX),
        )
    })
}

pub(crate) fn priority(entry: &Entry<'_>) -> syn::Result<i32> {
    let n = integer(entry)?;
    i32::try_from(n).map_err(|_| {
        syn::Error::new_spanned(
            entry.value,
            format!(
                "`priority` must fit in an `i32` ({} to {})",
                i32::MIN,
                i32::MAX
            ),
        )
    })
}

/// `concurrency = 2`: at least 1.
pub(crate) fn concurrency(entry: &Entry<'_>) -> syn::Result<u32> {
    let n = integer(entry)?;
    if n < 1 {
        return Err(syn::Error::new_spanned(
            entry.value,
            "`concurrency` must be at least 1 (the attempts that may run at once)",
        ));
    }
    u32::try_from(n).map_err(|_| {
        syn::Error::new_spanned(
            entry.value,
            format!("`concurrency` must be at most {}", u32::MAX),
        )
    })
}

/// `concurrency_key = account_id`: a payload field's name (checked against the
/// payload once the signature is read).
pub(crate) fn field_name(entry: &Entry<'_>) -> syn::Result<Ident> {
    let Key { name, example, .. } = entry.key;
    match entry.value {
        Expr::Path(path) if path.path.get_ident().is_some() => {
            Ok(path.path.get_ident().cloned().expect("checked"))
        }
        value => Err(syn::Error::new_spanned(
            value,
            format!("expected a payload field's name for `{name}`, like `{name} = {example}`"),
        )),
    }
}

/// `rate_limit = "10/1s"`: a count of at least 1 and a duration of at least 1 ms.
pub(crate) fn rate_limit(entry: &Entry<'_>) -> syn::Result<(u32, Duration)> {
    let lit = string_literal(entry)?;
    let text = lit.value();
    let expected = |what: &str| {
        syn::Error::new(
            lit.span(),
            format!("{what}; write `rate_limit` as \"N/duration\", like \"10/1s\" or \"100/1m\""),
        )
    };
    let Some((count, period)) = text.split_once('/') else {
        return Err(expected(&format!("`{text}` is not a rate")));
    };
    let count: u32 = count
        .trim()
        .parse()
        .map_err(|_| expected(&format!("`{}` is not a count of attempts", count.trim())))?;
    if count == 0 {
        return Err(expected("the count must be at least 1"));
    }
    let period = humantime::parse_duration(period.trim())
        .map_err(|err| expected(&format!("invalid duration `{}`: {err}", period.trim())))?;
    if period < Duration::from_millis(1) {
        return Err(expected("the duration must be at least 1ms"));
    }
    Ok((count, period))
}

/// `unique`, or `unique(fields = [a, b], period = "1h")` with either part.
pub(crate) fn unique(entry: &MetaEntry<'_>) -> syn::Result<UniqueDef> {
    let expected = || {
        format!(
            "expected `unique` or `{}` (either part may be left out)",
            entry.key.example
        )
    };
    let list = match entry.meta {
        Meta::Path(_) => return Ok(UniqueDef::default()),
        Meta::List(list) => list,
        Meta::NameValue(name_value) => {
            return Err(syn::Error::new_spanned(name_value, expected()));
        }
    };
    let parts = list.parse_args_with(Punctuated::<Meta, Token![,]>::parse_terminated)?;
    let mut unique = UniqueDef::default();
    let (mut seen_fields, mut seen_period) = (false, false);
    let mut errors = Errors::default();
    for part in parts {
        let Meta::NameValue(part) = part else {
            errors.push(syn::Error::new_spanned(part, expected()));
            continue;
        };
        let duplicate = |name: &str| {
            syn::Error::new_spanned(&part.path, format!("duplicate `{name}` in `unique(…)`"))
        };
        if part.path.is_ident("fields") {
            if std::mem::replace(&mut seen_fields, true) {
                errors.push(duplicate("fields"));
                continue;
            }
            unique.fields = errors.take(unique_fields(&part.value));
        } else if part.path.is_ident("period") {
            if std::mem::replace(&mut seen_period, true) {
                errors.push(duplicate("period"));
                continue;
            }
            let period = Entry {
                key: entry.key,
                ident: entry.ident,
                value: &part.value,
            };
            unique.period = errors.take(unique_period(&period));
        } else {
            let key = quote::ToTokens::to_token_stream(&part.path).to_string();
            errors.push(syn::Error::new_spanned(
                &part.path,
                format!("unknown key `{key}` in `unique(…)`; expected `fields` or `period`"),
            ));
        }
    }
    errors.finish()?;
    Ok(unique)
}

/// `[a, b]`: one or more payload field names, each once.
fn unique_fields(value: &Expr) -> syn::Result<Vec<Ident>> {
    let expected = "expected a list of payload field names, like `fields = [user_id]`";
    let Expr::Array(array) = value else {
        return Err(syn::Error::new_spanned(value, expected));
    };
    let mut fields: Vec<Ident> = Vec::new();
    for element in &array.elems {
        let Expr::Path(path) = element else {
            return Err(syn::Error::new_spanned(element, expected));
        };
        let Some(ident) = path.path.get_ident() else {
            return Err(syn::Error::new_spanned(element, expected));
        };
        if fields.contains(ident) {
            return Err(syn::Error::new(
                ident.span(),
                format!("`{ident}` is listed twice in `fields`"),
            ));
        }
        fields.push(ident.clone());
    }
    if fields.is_empty() {
        return Err(syn::Error::new_spanned(
            value,
            "`fields` needs at least one field; leave it out to make the key of the whole payload",
        ));
    }
    Ok(fields)
}

/// `period = "1h"`: a duration of at least a millisecond.
fn unique_period(entry: &Entry<'_>) -> syn::Result<Duration> {
    let lit = string_literal(entry).map_err(|_| {
        syn::Error::new_spanned(
            entry.value,
            "expected a string literal for `period`, like `period = \"1h\"`",
        )
    })?;
    let period = humantime::parse_duration(&lit.value()).map_err(|err| {
        syn::Error::new(
            lit.span(),
            format!(
                "invalid duration for `period`: {err}; write it like \"30m\", \"1h\" or \"1day\""
            ),
        )
    })?;
    if period < Duration::from_millis(1) {
        return Err(syn::Error::new(
            lit.span(),
            "`period` must be at least 1ms: it is the length of a window",
        ));
    }
    Ok(period)
}

/// `crate = "my_facade::kiribi"`: a path without generic arguments. Its tokens take the
/// string's span, so `crate::…` and `self::…` resolve where the job is written.
pub(crate) fn crate_path(entry: &Entry<'_>) -> syn::Result<syn::Path> {
    let lit = string_literal(entry)?;
    lit.parse_with(syn::Path::parse_mod_style).map_err(|_| {
        syn::Error::new(
            lit.span(),
            format!(
                "`crate` must be the path of the kiribi crate, like `crate = {}` or \
                 `crate = \"crate::reexports::kiribi\"`",
                entry.key.example
            ),
        )
    })
}

/// `cron = "…"`, read by the parser kiribi reads schedules with at run time
/// (kiribi's `schedule/cron.rs`): 5 or 6 fields or a nickname, no year.
pub(crate) fn cron(entry: &Entry<'_>) -> syn::Result<LitStr> {
    use croner::parser::{CronParser, Seconds, Year};
    let lit = string_literal(entry)?;
    let parser = CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build();
    match parser.parse(&lit.value()) {
        Ok(_) => Ok(lit),
        Err(error) => Err(syn::Error::new(
            lit.span(),
            format!(
                "invalid `cron`: {error}; write 5 fields (minute first, like \"0 9 * * 1-5\"), \
                 6 fields (seconds first, like \"*/2 * * * * *\"), or one of `@hourly`, \
                 `@daily`, `@weekly`, `@monthly`, `@yearly`"
            ),
        )),
    }
}

/// `timezone = "…"`: an IANA name that chrono-tz knows.
pub(crate) fn timezone(entry: &Entry<'_>) -> syn::Result<LitStr> {
    let lit = string_literal(entry)?;
    match lit.value().parse::<chrono_tz::Tz>() {
        Ok(_) => Ok(lit),
        Err(_) => Err(syn::Error::new(
            lit.span(),
            format!(
                "unknown time zone `{}`; write an IANA name like \"UTC\", \"Europe/Berlin\" \
                 or \"Asia/Tokyo\"",
                lit.value()
            ),
        )),
    }
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
                name = "media.resize",
                unique(fields = [user_id], period = "1h"),
                concurrency = 2,
                concurrency_key = user_id,
                rate_limit = "10/1s"
            ),
            job_fn(),
        );
        assert_eq!(
            quote::ToTokens::to_token_stream(&def.crate_path).to_string(),
            ":: kiribi"
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
                unique: Some(UniqueDef {
                    fields: Some(vec![Ident::new("user_id", proc_macro2::Span::call_site())]),
                    period: Some(Duration::from_secs(3600)),
                }),
                concurrency: Some(2),
                concurrency_key: Some(Ident::new("user_id", proc_macro2::Span::call_site())),
                rate_limit: Some((10, Duration::from_secs(1))),
                cron: None,
                timezone: None,
            }
        );
    }

    #[test]
    fn limits_are_checked() {
        let cases = [
            (quote!(concurrency = 0), "`concurrency` must be at least 1"),
            (
                quote!(concurrency = "2"),
                "expected an integer literal for `concurrency`",
            ),
            (
                quote!(concurrency = 1, concurrency_key = "user_id"),
                "expected a payload field's name",
            ),
            (
                quote!(concurrency = 1, concurrency_key = account_id),
                "unknown field `account_id` in `concurrency_key`; the payload fields are `user_id`",
            ),
            (
                quote!(concurrency_key = user_id),
                "`concurrency_key` needs a limit",
            ),
            (quote!(rate_limit = "10"), "`10` is not a rate"),
            (quote!(rate_limit = "ten/1s"), "`ten` is not a count"),
            (quote!(rate_limit = "0/1s"), "the count must be at least 1"),
            (quote!(rate_limit = "10/soon"), "invalid duration `soon`"),
            (
                quote!(rate_limit = "10/0s"),
                "the duration must be at least 1ms",
            ),
        ];
        for (attr, start) in cases {
            let errs = parse_err(attr.clone(), job_fn());
            assert!(errs[0].starts_with(start), "{attr}: {errs:?}");
        }
        let ok = parse_ok(quote!(rate_limit = "100 / 1m"), job_fn());
        assert_eq!(ok.config.rate_limit, Some((100, Duration::from_secs(60))));
    }

    #[test]
    fn unique_takes_a_bare_key_or_either_part() {
        let bare = parse_ok(quote!(unique), job_fn());
        assert_eq!(bare.config.unique, Some(UniqueDef::default()));
        let period = parse_ok(quote!(unique(period = "30m")), job_fn());
        assert_eq!(
            period.config.unique,
            Some(UniqueDef {
                fields: None,
                period: Some(Duration::from_secs(1800)),
            })
        );
        let cases = [
            (quote!(unique = true), "expected `unique` or"),
            (
                quote!(unique(fields = user_id)),
                "expected a list of payload field names",
            ),
            (
                quote!(unique(fields = [])),
                "`fields` needs at least one field",
            ),
            (
                quote!(unique(fields = [user_id, user_id])),
                "`user_id` is listed twice",
            ),
            (
                quote!(unique(fields = [email])),
                "unknown field `email` in `unique(fields = …)`; the payload fields are `user_id`",
            ),
            (
                quote!(unique(period = "0s")),
                "`period` must be at least 1ms",
            ),
            (
                quote!(unique(period = "soon")),
                "invalid duration for `period`",
            ),
            (
                quote!(unique(window = "1h")),
                "unknown key `window` in `unique(…)`",
            ),
            (quote!(unique, unique), "duplicate `unique`"),
        ];
        for (attr, start) in cases {
            let errs = parse_err(attr.clone(), job_fn());
            assert!(errs[0].starts_with(start), "{attr}: {errs:?}");
        }
    }

    #[test]
    fn unknown_key_lists_the_valid_ones() {
        let errs = parse_err(quote!(retries = 3), job_fn());
        assert_eq!(
            errs,
            [
                "unknown key `retries`; expected one of `name`, `queue`, `max_attempts`, \
                 `backoff`, `retry_delay`, `timeout`, `priority`, `crate`, `cron`, `timezone`, `unique`, `concurrency`, `concurrency_key`, `rate_limit`"
            ]
        );
    }

    #[test]
    fn duplicate_keys_are_rejected_once() {
        let errs = parse_err(quote!(queue = "a", queue = "b", queue = "c"), job_fn());
        assert_eq!(errs, ["duplicate `queue`", "duplicate `queue`"]);
    }

    #[test]
    fn paths_are_not_keys() {
        let errs = parse_err(quote!(kiribi::queue = "a"), job_fn());
        assert_eq!(
            errs,
            [
                "unknown key `kiribi::queue`; expected one of `name`, `queue`, `max_attempts`, \
              `backoff`, `retry_delay`, `timeout`, `priority`, `crate`, `cron`, `timezone`, `unique`, `concurrency`, `concurrency_key`, `rate_limit`"
            ]
        );
    }

    #[test]
    fn crate_is_a_path_in_a_string() {
        for path in [
            "crate::facade::jobs",
            "::my_facade::kiribi",
            "jobs",
            "self::kiribi",
        ] {
            let attr = parse_args(quote!(crate = #path)).expect("a valid path");
            let parsed = attr.crate_path.expect("given");
            assert_eq!(
                quote::ToTokens::to_token_stream(&parsed)
                    .to_string()
                    .replace(' ', ""),
                path
            );
        }
        assert!(parse_args(quote!()).expect("valid").crate_path.is_none());
    }

    #[test]
    fn crate_must_be_a_string_holding_a_plain_path() {
        let errs = parse_err(quote!(crate = 3), job_fn());
        assert_eq!(
            errs,
            ["expected a string literal for `crate`, like `crate = \"my_facade::kiribi\"`"]
        );
        for bad in ["not a path!", "", "kiribi::", "kiribi::<u8>", "kiribi.jobs"] {
            let errs = parse_err(quote!(crate = #bad), job_fn());
            assert_eq!(errs.len(), 1, "{bad:?}: {errs:?}");
            assert!(
                errs[0].starts_with("`crate` must be the path of the kiribi crate"),
                "{bad:?}: {errs:?}"
            );
        }
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

    fn heartbeat() -> TokenStream {
        quote! { async fn heartbeat(ctx: JobContext) -> Result<(), String> { Ok(()) } }
    }

    #[test]
    fn cron_and_timezone_are_read_on_a_job_without_payload() {
        for cron in [
            "0 9 * * 1-5",
            "*/2 * * * * *",
            "@hourly",
            "@daily",
            "@yearly",
        ] {
            let def = parse_ok(quote!(cron = #cron, timezone = "Asia/Tokyo"), heartbeat());
            assert_eq!(def.config.cron.as_deref(), Some(cron));
            assert_eq!(def.config.timezone.as_deref(), Some("Asia/Tokyo"));
        }
    }

    #[test]
    fn bad_cron_and_timezone_are_each_reported() {
        let errs = parse_err(
            quote!(cron = "0 9 * *", timezone = "Mars/Olympus"),
            heartbeat(),
        );
        assert_eq!(errs.len(), 2, "{errs:#?}");
        assert!(errs[0].starts_with("invalid `cron`: "), "{}", errs[0]);
        assert!(errs[0].contains("5 fields (minute first"), "{}", errs[0]);
        assert!(
            errs[1].starts_with("unknown time zone `Mars/Olympus`"),
            "{}",
            errs[1]
        );
        for bad in ["", "* * * * * * *", "61 * * * *", "@fortnightly"] {
            let errs = parse_err(quote!(cron = #bad), heartbeat());
            assert!(errs[0].starts_with("invalid `cron`"), "{bad:?}: {errs:?}");
        }
        let errs = parse_err(quote!(cron = 5), heartbeat());
        assert_eq!(
            errs,
            ["expected a string literal for `cron`, like `cron = \"0 9 * * 1-5\"`"]
        );
    }

    #[test]
    fn cron_needs_a_job_without_payload_parameters() {
        let errs = parse_err(quote!(cron = "0 3 * * *"), job_fn());
        assert_eq!(errs.len(), 1, "{errs:#?}");
        assert!(
            errs[0].starts_with(
                "`cron` is only for a job without payload parameters, and this one takes \
                 `user_id`"
            ),
            "{}",
            errs[0]
        );
        assert!(
            errs[0].contains("`Kiribi::schedule(name, cron, job)`"),
            "{}",
            errs[0]
        );
    }

    #[test]
    fn timezone_needs_cron() {
        let errs = parse_err(quote!(timezone = "Asia/Tokyo"), heartbeat());
        assert_eq!(
            errs,
            ["`timezone` is the time zone of `cron`: add `cron = \"…\"`, or remove `timezone`"]
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

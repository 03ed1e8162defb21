//! `#[job(…)]` attribute and fn signature → a validated [`JobDef`].

mod attr;
mod keys;
mod signature;

use std::time::Duration;

use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt;
use syn::{Attribute, Ident, ItemFn, Type, Visibility};

use self::attr::parse_args;
use self::signature::{check_signature, parse_params, parse_return, result_arg_spans};

/// One `#[job]` fn, validated: everything `expand` needs and nothing more.
#[derive(Debug)]
pub(crate) struct JobDef {
    /// Where the generated code finds kiribi: `::kiribi` unless `crate = "…"` says.
    pub(crate) crate_path: syn::Path,
    /// The fn's visibility; the struct, its fields and its methods get the same.
    pub(crate) vis: Visibility,
    /// The fn's name, as the user wrote it (may be raw).
    pub(crate) fn_ident: Ident,
    /// The payload struct's name: the fn's name in UpperCamelCase.
    pub(crate) struct_ident: Ident,
    /// `#[cfg]`/`#[cfg_attr]` attributes of the fn, repeated on every generated item.
    pub(crate) cfg_attrs: Vec<Attribute>,
    /// The declared configuration.
    pub(crate) config: Config,
    /// The fn's parameters, in order.
    pub(crate) params: Vec<Param>,
    /// The fn's return type, `Result<T, E>` or an alias of it.
    pub(crate) ret: Type,
    /// Where to report a problem with `T` / `E`: their own tokens when the return type
    /// spells them out, the whole return type otherwise.
    pub(crate) ok_span: Span,
    pub(crate) err_span: Span,
}

/// The values given in `#[job(…)]`; `None` means "the runtime's default".
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Config {
    /// Stable name; defaults to the fn's name.
    pub(crate) name: String,
    pub(crate) queue: Option<String>,
    pub(crate) max_attempts: Option<u32>,
    pub(crate) backoff: Option<Backoff>,
    pub(crate) retry_delay: Option<Duration>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) priority: Option<i32>,
    pub(crate) unique: Option<UniqueDef>,
    pub(crate) concurrency: Option<u32>,
    /// The payload field the limits hold per.
    pub(crate) concurrency_key: Option<Ident>,
    /// `rate_limit = "N/duration"`.
    pub(crate) rate_limit: Option<(u32, Duration)>,
    /// The schedule's cron expression, validated.
    pub(crate) cron: Option<String>,
    /// The time zone of `cron`, validated.
    pub(crate) timezone: Option<String>,
}

/// `unique` or `unique(fields = [a, b], period = "1h")`.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct UniqueDef {
    /// The payload fields the key is made of; `None` for the whole payload.
    pub(crate) fields: Option<Vec<Ident>>,
    /// The window for which the key is held whatever becomes of the job.
    pub(crate) period: Option<Duration>,
}

/// `backoff = "…"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backoff {
    Exponential,
    Fixed,
    Linear,
}

/// One parameter of the job fn.
#[derive(Debug)]
pub(crate) enum Param {
    /// `JobContext` or `State<T>`: filled in by the runtime through `FromContext`.
    Injected { ty: Type },
    /// Stored in the job's payload: becomes a field of the struct.
    Payload { ident: Ident, ty: Type },
}

/// Parses and validates the attribute and the fn, reporting every independent
/// mistake at once.
pub(crate) fn parse(attr: TokenStream, item: &ItemFn) -> syn::Result<JobDef> {
    let mut errors = Errors::default();
    let args = errors.take(parse_args(attr));
    let params = errors.take(parse_params(&item.sig));
    let ret = errors.take(parse_return(&item.sig));
    let (ok_span, err_span) = ret
        .as_ref()
        .map_or_else(|| (Span::call_site(), Span::call_site()), result_arg_spans);
    errors.extend(check_signature(&item.sig));

    let fn_ident = item.sig.ident.clone();
    let fn_name = fn_ident.unraw().to_string();
    let struct_ident = Ident::new(&upper_camel_case(&fn_name), fn_ident.span());
    if struct_ident == fn_name {
        errors.push(syn::Error::new(
            fn_ident.span(),
            format!(
                "cannot name the job's struct after `{fn_name}`: name the fn in snake_case, \
                 the struct gets the UpperCamelCase name"
            ),
        ));
    }
    if let Some(args) = &args {
        errors.extend(check_schedule(args, params.as_deref()));
    }
    errors.finish()?;

    let (attr, params, ret) = match (args, params, ret) {
        (Some(args), Some(params), Some(ret)) => (args, params, ret),
        // `finish` returned early if any of them failed.
        _ => {
            return Err(syn::Error::new(
                Span::call_site(),
                "internal error in `#[job]`",
            ));
        }
    };
    let mut config = attr.config;
    if config.name.is_empty() {
        config.name = fn_name;
    }
    let mut errors = Errors::default();
    if let Some(fields) = config.unique.as_ref().and_then(|u| u.fields.as_ref()) {
        errors.extend(check_fields(fields, &params, "unique(fields = …)"));
    }
    if let Some(field) = &config.concurrency_key {
        errors.extend(check_fields(
            std::slice::from_ref(field),
            &params,
            "concurrency_key",
        ));
        if config.concurrency.is_none() && config.rate_limit.is_none() {
            errors.push(syn::Error::new(
                field.span(),
                "`concurrency_key` needs a limit to count per key: add `concurrency = N` or \
                 `rate_limit = \"N/duration\"`",
            ));
        }
    }
    errors.finish()?;
    let crate_path = attr
        .crate_path
        .unwrap_or_else(|| syn::parse_quote!(::kiribi));
    let cfg_attrs = item
        .attrs
        .iter()
        .filter(|attr| attr.path().is_ident("cfg") || attr.path().is_ident("cfg_attr"))
        .cloned()
        .collect();
    Ok(JobDef {
        crate_path,
        vis: item.vis.clone(),
        fn_ident,
        struct_ident,
        cfg_attrs,
        config,
        params,
        ret,
        ok_span,
        err_span,
    })
}

/// Every field named in `key` is a payload field of the job.
fn check_fields(fields: &[Ident], params: &[Param], key: &str) -> syn::Result<()> {
    let payload: Vec<String> = params
        .iter()
        .filter_map(|param| match param {
            Param::Payload { ident, .. } => Some(ident.unraw().to_string()),
            Param::Injected { .. } => None,
        })
        .collect();
    let mut errors = Errors::default();
    for field in fields {
        if !payload.contains(&field.unraw().to_string()) {
            let known = if payload.is_empty() {
                "the job has no payload fields".to_owned()
            } else {
                let names: Vec<_> = payload.iter().map(|name| format!("`{name}`")).collect();
                format!("the payload fields are {}", names.join(", "))
            };
            errors.push(syn::Error::new(
                field.span(),
                format!("unknown field `{field}` in `{key}`; {known}"),
            ));
        }
    }
    errors.finish()
}

/// `cron` needs a job without payload parameters (its ticks enqueue no arguments),
/// and `timezone` needs `cron`.
fn check_schedule(args: &attr::Attr, params: Option<&[Param]>) -> syn::Result<()> {
    if let (Some(timezone), None) = (&args.timezone, &args.cron) {
        return Err(syn::Error::new(
            timezone.span(),
            "`timezone` is the time zone of `cron`: add `cron = \"…\"`, or remove `timezone`",
        ));
    }
    let payload = params
        .unwrap_or_default()
        .iter()
        .filter_map(|param| match param {
            Param::Payload { ident, .. } => Some(format!("`{ident}`")),
            Param::Injected { .. } => None,
        })
        .collect::<Vec<_>>();
    match &args.cron {
        Some(cron) if !payload.is_empty() => Err(syn::Error::new(
            cron.span(),
            format!(
                "`cron` is only for a job without payload parameters, and this one takes {}: \
                 a tick has no arguments to give; schedule it with arguments at run time \
                 with `Kiribi::schedule(name, cron, job)`",
                payload.join(", ")
            ),
        )),
        _ => Ok(()),
    }
}

/// Collects independent errors into one `syn::Error`.
#[derive(Default)]
struct Errors(Option<syn::Error>);

impl Errors {
    fn push(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(errors) => errors.combine(error),
            None => self.0 = Some(error),
        }
    }

    fn extend(&mut self, result: syn::Result<()>) {
        if let Err(error) = result {
            self.push(error);
        }
    }

    fn take<T>(&mut self, result: syn::Result<T>) -> Option<T> {
        result.map_err(|error| self.push(error)).ok()
    }

    fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// `send_welcome` → `SendWelcome`; leading, trailing and doubled `_` are dropped.
pub(crate) fn upper_camel_case(snake: &str) -> String {
    snake
        .split('_')
        .filter(|word| !word.is_empty())
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect::<String>(),
                None => String::new(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    pub(super) fn parse_ok(attr: TokenStream, item: TokenStream) -> JobDef {
        let item: ItemFn = syn::parse2(item).expect("test input is a fn");
        match parse(attr, &item) {
            Ok(def) => def,
            Err(err) => panic!("unexpected error: {err}"),
        }
    }

    /// Every message, in order.
    pub(super) fn parse_err(attr: TokenStream, item: TokenStream) -> Vec<String> {
        let item: ItemFn = syn::parse2(item).expect("test input is a fn");
        match parse(attr, &item) {
            Ok(def) => panic!("expected an error, got {def:?}"),
            Err(err) => err.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    pub(super) fn job_fn() -> TokenStream {
        quote! { async fn send_welcome(user_id: i64) -> Result<(), String> { Ok(()) } }
    }

    #[test]
    fn name_defaults_to_the_fn_name_and_other_keys_stay_unset() {
        let def = parse_ok(quote!(), job_fn());
        assert_eq!(
            def.config,
            Config {
                name: "send_welcome".into(),
                ..Config::default()
            }
        );
        assert_eq!(def.struct_ident, "SendWelcome");
    }

    #[test]
    fn raw_fn_names_lose_their_prefix() {
        let def = parse_ok(
            quote!(),
            quote! { async fn r#match() -> Result<(), String> { Ok(()) } },
        );
        assert_eq!(def.config.name, "match");
        assert_eq!(def.struct_ident, "Match");
    }

    #[test]
    fn signature_mistakes_are_combined() {
        let errs = parse_err(
            quote!(bogus = 1),
            quote! {
                unsafe fn bad<T>(&self, (a, b): (u8, u8), s: &str, f: impl Fn(), State(x): State) -> u8
                where T: Copy { 0 }
            },
        );
        // `-> u8` is a path, so it is left to the `JobReturn` trait: no error here.
        let expected_starts = [
            "unknown key `bogus`",
            "a job cannot take `self`",
            "a job argument must be a plain name",
            "a job argument cannot be a reference (`&str`)",
            "a job argument cannot be `impl Trait`",
            "`State` needs the type of the state",
        ];
        for (err, start) in errs.iter().zip(expected_starts) {
            assert!(
                err.starts_with(start),
                "{err:?} should start with {start:?}"
            );
        }
        let rest = &errs[6..];
        assert!(rest[0].contains("`unsafe`"), "{rest:?}");
        assert!(rest[1].contains("`async fn`"), "{rest:?}");
        assert!(rest[2].contains("generic"), "{rest:?}");
        assert!(rest[3].contains("`where` clause"), "{rest:?}");
        assert_eq!(errs.len(), 10, "{errs:#?}");
    }

    #[test]
    fn camel_case_names() {
        assert_eq!(upper_camel_case("send_welcome"), "SendWelcome");
        assert_eq!(upper_camel_case("_private__job_"), "PrivateJob");
        assert_eq!(upper_camel_case("resize2x"), "Resize2x");
        let errs = parse_err(
            quote!(),
            quote! { async fn Ping() -> Result<(), String> { Ok(()) } },
        );
        assert!(
            errs[0].starts_with("cannot name the job's struct after `Ping`"),
            "{errs:?}"
        );
    }
}

//! `#[job(…)]` attribute and fn signature → a validated [`JobDef`].

use std::time::Duration;

use proc_macro2::{Span, TokenStream};
use syn::ext::IdentExt;
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{
    Attribute, Expr, ExprLit, ExprUnary, FnArg, GenericArgument, Ident, ItemFn, Lit, Meta, Pat,
    PathArguments, ReturnType, Signature, Token, Type, UnOp, Visibility,
};

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

/// One `#[job]` fn, validated: everything `expand` needs and nothing more.
#[derive(Debug)]
pub(crate) struct JobDef {
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
    errors.finish()?;

    let (mut config, params, ret) = match (args, params, ret) {
        (Some(args), Some(params), Some(ret)) => (args, params, ret),
        // `finish` returned early if any of them failed.
        _ => {
            return Err(syn::Error::new(
                Span::call_site(),
                "internal error in `#[job]`",
            ));
        }
    };
    if config.name.is_empty() {
        config.name = fn_name;
    }
    let cfg_attrs = item
        .attrs
        .iter()
        .filter(|attr| attr.path().is_ident("cfg") || attr.path().is_ident("cfg_attr"))
        .cloned()
        .collect();
    Ok(JobDef {
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

// ---------------------------------------------------------------------------------
// The attribute
// ---------------------------------------------------------------------------------

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
fn parse_args(attr: TokenStream) -> syn::Result<Config> {
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

// ---------------------------------------------------------------------------------
// The signature
// ---------------------------------------------------------------------------------

/// Everything about the fn's shape other than its parameters and return type.
fn check_signature(sig: &Signature) -> syn::Result<()> {
    let mut errors = Errors::default();
    if let Some(token) = &sig.constness {
        errors.push(syn::Error::new(token.span, "a job cannot be a `const fn`"));
    }
    if let Some(token) = &sig.unsafety {
        errors.push(syn::Error::new(token.span, "a job cannot be `unsafe`"));
    }
    if let Some(abi) = &sig.abi {
        errors.push(syn::Error::new_spanned(abi, "a job cannot be `extern`"));
    }
    if sig.asyncness.is_none() {
        errors.push(syn::Error::new(
            sig.fn_token.span,
            "`#[job]` needs an `async fn`: write `async fn`",
        ));
    }
    if !sig.generics.params.is_empty() {
        errors.push(syn::Error::new_spanned(
            &sig.generics.params,
            "a job cannot be generic: its arguments are stored and decoded by name, \
             so every parameter needs a concrete, owned type",
        ));
    }
    if let Some(where_clause) = &sig.generics.where_clause {
        errors.push(syn::Error::new_spanned(
            where_clause,
            "a job cannot have a `where` clause: it cannot be generic",
        ));
    }
    if let Some(variadic) = &sig.variadic {
        errors.push(syn::Error::new_spanned(
            variadic,
            "a job cannot be variadic",
        ));
    }
    errors.finish()
}

fn parse_return(sig: &Signature) -> syn::Result<Type> {
    let ty = match &sig.output {
        ReturnType::Default => {
            return Err(syn::Error::new(
                sig.paren_token.span.close(),
                "a job must return `Result<T, E>` (where `E: Display`): \
                 add a return type such as `-> Result<(), String>`",
            ));
        }
        ReturnType::Type(_, ty) => &**ty,
    };
    // Paths (`Result<…>`, `anyhow::Result<…>`, aliases) are checked by the
    // `JobReturn` trait, which sees through aliases; anything else is surely wrong.
    match strip_groups(ty) {
        Type::Path(_) => Ok(ty.clone()),
        other => Err(syn::Error::new_spanned(
            other,
            format!(
                "a job must return `Result<T, E>` (where `E: Display`), not `{}`",
                pretty(other)
            ),
        )),
    }
}

/// The spans of `T` and `E` in `Result<T, E>`, `anyhow::Result<T>` …
fn result_arg_spans(ret: &Type) -> (Span, Span) {
    let whole = ret.span();
    let Type::Path(path) = strip_groups(ret) else {
        return (whole, whole);
    };
    let Some(PathArguments::AngleBracketed(args)) =
        path.path.segments.last().map(|segment| &segment.arguments)
    else {
        return (whole, whole);
    };
    let mut types = args.args.iter().filter_map(|arg| match arg {
        GenericArgument::Type(ty) => Some(ty.span()),
        _ => None,
    });
    (types.next().unwrap_or(whole), types.next().unwrap_or(whole))
}

fn parse_params(sig: &Signature) -> syn::Result<Vec<Param>> {
    let mut errors = Errors::default();
    let mut params = Vec::new();
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(receiver) => errors.push(syn::Error::new_spanned(
                receiver,
                "a job cannot take `self`: write a free `async fn`, its arguments become the \
                 job's fields",
            )),
            FnArg::Typed(pat_type) => {
                if let Some(param) = errors.take(parse_param(&pat_type.pat, &pat_type.ty)) {
                    params.push(param);
                }
            }
        }
    }
    errors.finish()?;
    Ok(params)
}

/// What a parameter's type says about it.
enum Kind {
    Injected,
    Payload,
}

fn parse_param(pat: &Pat, ty: &Type) -> syn::Result<Param> {
    match classify(ty)? {
        // The fn itself checks injected patterns (any irrefutable one is fine).
        Kind::Injected => Ok(Param::Injected { ty: ty.clone() }),
        Kind::Payload => {
            let mut errors = Errors::default();
            let ident = errors.take(payload_ident(pat));
            errors.extend(check_payload_type(ty));
            errors.finish()?;
            match ident {
                Some(ident) => Ok(Param::Payload {
                    ident,
                    ty: ty.clone(),
                }),
                None => Err(syn::Error::new_spanned(pat, "internal error in `#[job]`")),
            }
        }
    }
}

/// `JobContext` and `State<T>` are recognised by the last path segment, so
/// `kiribi::JobContext` and re-exports work.
fn classify(ty: &Type) -> syn::Result<Kind> {
    match strip_groups(ty) {
        Type::Path(path) if path.qself.is_none() => {
            let Some(last) = path.path.segments.last() else {
                return Ok(Kind::Payload);
            };
            if last.ident == "JobContext" {
                if !last.arguments.is_none() {
                    return Err(syn::Error::new_spanned(
                        &last.arguments,
                        "`JobContext` takes no type arguments",
                    ));
                }
                return Ok(Kind::Injected);
            }
            if last.ident == "State" {
                return match &last.arguments {
                    PathArguments::AngleBracketed(args)
                        if args.args.len() == 1
                            && matches!(args.args.first(), Some(GenericArgument::Type(_))) =>
                    {
                        Ok(Kind::Injected)
                    }
                    PathArguments::None => Err(syn::Error::new_spanned(
                        &last.ident,
                        "`State` needs the type of the state: write `State<T>`, \
                         e.g. `State(db): State<Db>`",
                    )),
                    args => Err(syn::Error::new_spanned(
                        args,
                        "`State` takes exactly one type argument: `State<T>`",
                    )),
                };
            }
            Ok(Kind::Payload)
        }
        Type::Reference(reference) => {
            if let Type::Path(path) = strip_groups(&reference.elem)
                && let Some(last) = path.path.segments.last()
                && (last.ident == "JobContext" || last.ident == "State")
            {
                return Err(syn::Error::new(
                    reference.and_token.span,
                    format!(
                        "take `{}` by value, not by reference: it is cheap to clone",
                        last.ident
                    ),
                ));
            }
            Ok(Kind::Payload)
        }
        _ => Ok(Kind::Payload),
    }
}

/// A payload parameter is a plain name, optionally `mut`: it becomes a field.
fn payload_ident(pat: &Pat) -> syn::Result<Ident> {
    match pat {
        Pat::Ident(pat_ident) if pat_ident.by_ref.is_none() && pat_ident.subpat.is_none() => {
            Ok(pat_ident.ident.clone())
        }
        Pat::Ident(pat_ident) if pat_ident.by_ref.is_some() => Err(syn::Error::new_spanned(
            pat_ident.by_ref,
            "a job argument cannot be bound by `ref`: it becomes a field of the job's struct",
        )),
        _ => Err(syn::Error::new_spanned(
            pat,
            "a job argument must be a plain name such as `width` or `mut width`, because it \
             becomes a field of the job's struct; only `JobContext` and `State<T>` parameters \
             can use patterns",
        )),
    }
}

/// Rejects the types that can never be a stored argument, wherever they appear.
fn check_payload_type(ty: &Type) -> syn::Result<()> {
    match ty {
        Type::Reference(reference) => Err(syn::Error::new_spanned(
            reference,
            format!(
                "a job argument cannot be a reference (`{}`): arguments are stored as JSON; \
                 use an owned type such as `String` instead of `&str`",
                pretty(ty)
            ),
        )),
        Type::ImplTrait(impl_trait) => Err(syn::Error::new_spanned(
            impl_trait,
            "a job argument cannot be `impl Trait`: arguments are stored as JSON; use a \
             concrete type",
        )),
        Type::Group(group) => check_payload_type(&group.elem),
        Type::Paren(paren) => check_payload_type(&paren.elem),
        Type::Array(array) => check_payload_type(&array.elem),
        Type::Slice(slice) => check_payload_type(&slice.elem),
        Type::Tuple(tuple) => tuple.elems.iter().try_for_each(check_payload_type),
        Type::Path(path) => {
            if let Some(qself) = &path.qself {
                check_payload_type(&qself.ty)?;
            }
            for segment in &path.path.segments {
                if let PathArguments::AngleBracketed(args) = &segment.arguments {
                    for arg in &args.args {
                        if let GenericArgument::Type(ty) = arg {
                            check_payload_type(ty)?;
                        }
                    }
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Looks through the invisible groups `macro_rules!` puts around `$t:ty`.
fn strip_groups(ty: &Type) -> &Type {
    match ty {
        Type::Group(group) => strip_groups(&group.elem),
        _ => ty,
    }
}

/// A type as the user would write it, for messages.
fn pretty(ty: &Type) -> String {
    use quote::ToTokens;
    let text = ty.to_token_stream().to_string();
    text.replace("& ", "&")
        .replace(" <", "<")
        .replace("< ", "<")
        .replace(" >", ">")
        .replace(" ,", ",")
        .replace(" :: ", "::")
        .replace(":: ", "::")
        .replace("( ", "(")
        .replace(" )", ")")
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

    fn parse_ok(attr: TokenStream, item: TokenStream) -> JobDef {
        let item: ItemFn = syn::parse2(item).expect("test input is a fn");
        match parse(attr, &item) {
            Ok(def) => def,
            Err(err) => panic!("unexpected error: {err}"),
        }
    }

    /// Every message, in order.
    fn parse_err(attr: TokenStream, item: TokenStream) -> Vec<String> {
        let item: ItemFn = syn::parse2(item).expect("test input is a fn");
        match parse(attr, &item) {
            Ok(def) => panic!("expected an error, got {def:?}"),
            Err(err) => err.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    fn job_fn() -> TokenStream {
        quote! { async fn send_welcome(user_id: i64) -> Result<(), String> { Ok(()) } }
    }

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
    fn injected_and_payload_params_are_told_apart() {
        let def = parse_ok(
            quote!(),
            quote! {
                async fn resize(
                    path: String,
                    State(db): State<Db>,
                    ctx: kiribi::JobContext,
                    mut width: u32,
                ) -> anyhow::Result<u64> { Ok(1) }
            },
        );
        let shape: Vec<String> = def
            .params
            .iter()
            .map(|p| match p {
                Param::Injected { ty } => format!("inject {}", pretty(ty)),
                Param::Payload { ident, ty } => format!("{ident}: {}", pretty(ty)),
            })
            .collect();
        assert_eq!(
            shape,
            [
                "path: String",
                "inject State<Db>",
                "inject kiribi::JobContext",
                "width: u32"
            ]
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
    fn return_type_must_look_like_a_result() {
        let errs = parse_err(quote!(), quote! { async fn a() {} });
        assert!(
            errs[0].starts_with("a job must return `Result<T, E>`"),
            "{errs:?}"
        );
        let errs = parse_err(
            quote!(),
            quote! { async fn a() -> (u8, String) { todo!() } },
        );
        assert!(errs[0].ends_with("not `(u8, String)`"), "{errs:?}");
    }

    #[test]
    fn references_to_injected_types_have_their_own_message() {
        let errs = parse_err(
            quote!(),
            quote! { async fn a(ctx: &JobContext) -> Result<(), String> { Ok(()) } },
        );
        assert_eq!(
            errs,
            ["take `JobContext` by value, not by reference: it is cheap to clone"]
        );
        let errs = parse_err(
            quote!(),
            quote! { async fn a(s: State<A, B>) -> Result<(), String> { Ok(()) } },
        );
        assert_eq!(
            errs,
            ["`State` takes exactly one type argument: `State<T>`"]
        );
    }

    #[test]
    fn nested_references_are_rejected() {
        let errs = parse_err(
            quote!(),
            quote! { async fn a(v: Vec<&'static str>) -> Result<(), String> { Ok(()) } },
        );
        assert!(errs[0].contains("(`&'static str`)"), "{errs:?}");
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

//! A validated [`JobDef`] → the payload struct, its `Job` impl, its methods and its
//! registration.
//!
//! Generated code names only `::kiribi::__private::…` (or the `crate = "…"` path's
//! `__private`), `::core::…` and `::std::…`, so it compiles whatever the user has
//! shadowed (`Result`, `Box`, `Send` …) and without a `serde` dependency. Locals use
//! mixed-site spans, so they cannot clash with the user's names, except the few that
//! must be seen at the user's return type; those live where no user code is.
//!
//! Whatever rustc may report on a user's type is spanned at that type, kiribi's paths
//! included ([`respan`]): errors then point at the type rather than the attribute, and
//! the same error for several generated uses of a type merges into one.

mod payload;

use std::time::Duration;

use proc_macro2::{Group, Ident, Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;

use crate::parse::{Backoff, Config, JobDef, Param};

/// Everything `#[job]` adds next to the fn.
pub(crate) fn expand(def: &JobDef) -> TokenStream {
    let cfgs = &def.cfg_attrs;
    payload::items(def)
        .into_iter()
        .chain([job_impl(def), methods(def), registration(def)])
        .map(|item| quote! { #(#cfgs)* #item })
        .collect()
}

/// `impl ::kiribi::__private::Job for Resize` (named through `__private`).
fn job_impl(def: &JobDef) -> TokenStream {
    let JobDef {
        fn_ident,
        struct_ident,
        ret,
        ..
    } = def;
    let k = &def.crate_path;
    let ctx = Ident::new("__kiribi_ctx", Span::mixed_site());
    let config = config(k, &def.config);

    // `let Self { path: __kiribi_arg2, .. } = self;`
    let mut field_bindings = Vec::new();
    // `let __kiribi_arg1 = <State<Db> as FromContext>::from_context(&ctx)?;`
    let mut extractions = Vec::new();
    // The call's arguments, in the fn's order.
    let mut call_args = Vec::new();
    for (index, param) in def.params.iter().enumerate() {
        let local = Ident::new(&format!("__kiribi_arg{index}"), Span::mixed_site());
        match param {
            Param::Payload { ident, .. } => field_bindings.push(quote! { #ident: #local }),
            Param::Injected { ty } => {
                let from_context = quote_spanned! {ty.span()=>
                    <#ty as #k::__private::FromContext>::from_context
                };
                extractions.push(quote! {
                    let #local = match #from_context(&#ctx) {
                        ::core::result::Result::Ok(value) => value,
                        ::core::result::Result::Err(error) => {
                            return ::core::result::Result::Err(error);
                        }
                    };
                });
            }
        }
        call_args.push(local);
    }
    let destructure = if field_bindings.is_empty() {
        quote! { let _ = self; }
    } else {
        quote! { let Self { #(#field_bindings,)* } = self; }
    };
    let job_return = quote! { #k::__private::JobReturn };
    let output = quote_spanned! {def.ok_span=> <#ret as #job_return>::Output };
    let ret_span = def.ret.span();
    // The locals typed by `JobReturn` are at the return type too: when it is not a
    // `Result`, the error rustc reports for each of them then merges with the one at
    // the call. (Nothing of the user's is in scope here for them to clash with.)
    let result = Ident::new("kiribi_result", ret_span);
    let error = Ident::new("kiribi_error", ret_span);
    let job_error = Ident::new("__kiribi_job_error", Span::mixed_site());
    // The one place that needs `E: Display`, reported at `E`: the turbofish names it.
    let err_k = respan(quote!(#k), def.err_span);
    let into_job_error = quote_spanned! {def.err_span=>
        #err_k::__private::into_job_error::<<#ret as #err_k::__private::JobReturn>::Error>
    };
    let error_at_e = Ident::new("kiribi_error", def.err_span);
    // The whole call at the return type, so that a mismatch is reported there.
    let mut callee = fn_ident.clone();
    callee.set_span(ret_span);
    let call = quote_spanned! {ret_span=> #callee(#(#call_args),*).await };
    // Through `JobReturn`, so that a return type that is not a `Result` is reported
    // once, by that trait, rather than also as a mismatch here.
    let ret_k = respan(quote!(#k), ret_span);
    let into_result = quote_spanned! {ret_span=>
        <#ret as #ret_k::__private::JobReturn>::into_result
    };
    // Autoref specialisation (see kiribi's `classify.rs`): a `JobError` in the error,
    // or in its source chain, keeps its permanence.
    let classify = quote! {{
        use #k::__private::{ErrorChainKind as _, OtherKind as _, TypedKind as _};
        match (&#error).kiribi_error_kind().classify(#error) {
            ::core::result::Result::Ok(#job_error) => #job_error,
            ::core::result::Result::Err(#error_at_e) => #into_job_error(#error_at_e),
        }
    }};
    let outcome = quote_spanned! {ret_span=>
        let #result = #into_result(#call);
        match #result {
            ::core::result::Result::Ok(#result) => ::core::result::Result::Ok(#result),
            ::core::result::Result::Err(#error) => ::core::result::Result::Err(#classify),
        }
    };
    let body = quote! {
        #destructure
        #(#extractions)*
        #outcome
    };
    // Boxing into `BoxFuture` is what enforces `Send`: span the async block at the fn's
    // name so a non-`Send` future is reported there rather than on the attribute.
    let future = quote_spanned! {fn_ident.span()=>
        ::std::boxed::Box::pin(async move { #body })
    };
    let output_item = quote_spanned! {def.ok_span=> type Output = #output; };
    // Every type mentioning the output is spanned at it: when the return type is not a
    // `Result`, rustc reports each of them, and identical errors at one span merge.
    let ok_k = respan(quote!(#k), def.ok_span);
    let run_ty = quote_spanned! {def.ok_span=>
        #ok_k::__private::BoxFuture<
            'static,
            ::core::result::Result<#output, #ok_k::__private::JobError>,
        >
    };
    // The impl and `run` at the output as well (the self type keeps the fn's name):
    // rustc checks both against the trait, normalizing the output again.
    let run_item = quote_spanned! {def.ok_span=>
        fn run(self, #ctx: #ok_k::__private::JobContext) -> #run_ty {
            #future
        }
    };
    let items = quote! {
        const CONFIG: #k::__private::JobConfig = #config;

        #output_item

        #run_item
    };
    let impl_item = quote_spanned! {def.ok_span=>
        impl #ok_k::__private::Job for #struct_ident {
            #items
        }
    };
    quote! {
        #[allow(
            clippy::type_complexity,
            reason = "spanned at the user's return type, clippy takes these for user code"
        )]
        #impl_item
    }
}

/// `JobConfig::new("media.resize").queue("media")…`, only for given keys.
fn config(k: &syn::Path, config: &Config) -> TokenStream {
    let Config {
        name,
        queue,
        max_attempts,
        backoff,
        retry_delay,
        timeout,
        priority,
        unique,
        concurrency,
        concurrency_key,
        rate_limit,
        cron,
        timezone,
    } = config;
    let mut tokens = quote! { #k::__private::JobConfig::new(#name) };
    if let Some(queue) = queue {
        tokens.extend(quote! { .queue(#queue) });
    }
    if let Some(max_attempts) = max_attempts {
        tokens.extend(quote! { .max_attempts(#max_attempts) });
    }
    if let Some(backoff) = backoff {
        let variant = match backoff {
            Backoff::Exponential => quote!(Exponential),
            Backoff::Fixed => quote!(Fixed),
            Backoff::Linear => quote!(Linear),
        };
        tokens.extend(quote! { .backoff(#k::__private::Backoff::#variant) });
    }
    if let Some(retry_delay) = retry_delay {
        let duration = duration(k, *retry_delay);
        tokens.extend(quote! { .retry_delay(#duration) });
    }
    if let Some(timeout) = timeout {
        let duration = duration(k, *timeout);
        tokens.extend(quote! { .timeout(#duration) });
    }
    if let Some(priority) = priority {
        tokens.extend(quote! { .priority(#priority) });
    }
    if let Some(unique) = unique {
        let mut value = match &unique.fields {
            None => quote! { #k::__private::Unique::payload() },
            Some(fields) => {
                let names = fields.iter().map(|field| field.unraw().to_string());
                quote! { #k::__private::Unique::fields(&[#(#names),*]) }
            }
        };
        if let Some(period) = unique.period {
            let duration = duration(k, period);
            value.extend(quote! { .period(#duration) });
        }
        tokens.extend(quote! { .unique(#value) });
    }
    if let Some(concurrency) = concurrency {
        tokens.extend(quote! { .concurrency(#concurrency) });
    }
    if let Some(field) = concurrency_key {
        let field = field.unraw().to_string();
        tokens.extend(quote! { .concurrency_key(#field) });
    }
    if let Some((count, period)) = rate_limit {
        let period = duration(k, *period);
        tokens.extend(quote! { .rate_limit(#k::__private::RateLimit::new(#count, #period)) });
    }
    if let Some(cron) = cron {
        tokens.extend(quote! { .cron(#cron) });
    }
    if let Some(timezone) = timezone {
        tokens.extend(quote! { .timezone(#timezone) });
    }
    tokens
}

/// A `Duration` computed at compile time, in the most readable exact constructor.
fn duration(k: &syn::Path, duration: Duration) -> TokenStream {
    let secs = duration.as_secs();
    let nanos = duration.subsec_nanos();
    if nanos == 0 {
        quote! { #k::__private::Duration::from_secs(#secs) }
    } else if nanos.is_multiple_of(1_000_000)
        && let Ok(millis) = u64::try_from(duration.as_millis())
    {
        quote! { #k::__private::Duration::from_millis(#millis) }
    } else {
        quote! { #k::__private::Duration::new(#secs, #nanos) }
    }
}

/// `Resize::enqueue`, `enqueue_with`, `enqueue_many` and `run_now`.
fn methods(def: &JobDef) -> TokenStream {
    let JobDef {
        vis,
        fn_ident,
        struct_ident,
        ..
    } = def;
    let k = &def.crate_path;
    let ret = &def.ret;
    // Spelled out rather than `<Self as Job>::Output` so that a bad return type is
    // reported at the return type, not at the attribute.
    let output = quote_spanned! {def.ok_span=> <#ret as #k::__private::JobReturn>::Output };
    let ok_k = respan(quote!(#k), def.ok_span);
    let run_now_ty = quote_spanned! {def.ok_span=>
        #ok_k::__private::BoxFuture<'_, ::core::result::Result<#output, #ok_k::__private::Error>>
    };
    // At the output, body included: its type is normalized there.
    let run_now = quote_spanned! {def.ok_span=>
        #vis fn run_now(
            kiribi: &#ok_k::__private::Kiribi,
            job: Self,
        ) -> #run_now_ty {
            #ok_k::__private::run_now(kiribi, job)
        }
    };
    let job = format!("[`{fn_ident}`]");
    let enqueue_doc = format!(
        "Enqueues a {job} job with its declared defaults.\n\n\
         `target` is a `&Kiribi`, a `&JobContext` (a follow-up job from inside a job) or a \
         backend connection or transaction (`&mut *tx`: the job exists if and only if the \
         transaction commits). Returns the new job's id.\n\n\
         # Errors\n\n\
         Fails if the arguments cannot be serialized or the job cannot be stored."
    );
    let enqueue_with_doc = format!(
        "Enqueues a {job} job, with `options` (delay, queue, priority …) overriding its \
         declared defaults.\n\n\
         See [`{struct_ident}::enqueue`] for `target`.\n\n\
         # Errors\n\n\
         Fails if the arguments cannot be serialized or the job cannot be stored."
    );
    let insert_doc = format!(
        "Enqueues a {job} job like [`{struct_ident}::enqueue_with`], and says what became \
         of it: [`Enqueued::duplicate`](kiribi::Enqueued) is true when no job was inserted \
         because a job of the same name holds its unique key (`#[job(unique)]`, \
         `EnqueueOptions::unique_key`); `id` is then the holder's.\n\n\
         # Errors\n\n\
         Fails if the arguments cannot be serialized or the job cannot be stored."
    );
    let enqueue_many_doc = format!(
        "Enqueues many {job} jobs at once, with their declared defaults; returns their ids \
         in order.\n\n\
         See [`{struct_ident}::enqueue`] for `target`.\n\n\
         # Errors\n\n\
         Fails if any arguments cannot be serialized or the jobs cannot be stored; then \
         none is enqueued."
    );
    let run_now_doc = format!(
        "Runs a {job} job in the caller's task: exactly one attempt, with the job's \
         timeout, recorded like any job but never handed to a worker. Returns the job's \
         output.\n\n\
         # Errors\n\n\
         Fails if the job fails (its error is returned) or cannot be recorded."
    );
    quote! {
        #[allow(dead_code, reason = "a job need not use every generated method")]
        #[allow(
            clippy::type_complexity,
            reason = "spanned at the user's return type, clippy takes these for user code"
        )]
        impl #struct_ident {
            #[doc = #enqueue_doc]
            #vis fn enqueue<'a, E: #k::__private::Enqueue + 'a>(
                target: E,
                job: Self,
            ) -> #k::__private::BoxFuture<
                'a,
                ::core::result::Result<#k::__private::JobId, #k::__private::Error>,
            > {
                #k::__private::enqueue(target, job)
            }

            #[doc = #enqueue_with_doc]
            #vis fn enqueue_with<'a, E: #k::__private::Enqueue + 'a>(
                target: E,
                job: Self,
                options: #k::__private::EnqueueOptions,
            ) -> #k::__private::BoxFuture<
                'a,
                ::core::result::Result<#k::__private::JobId, #k::__private::Error>,
            > {
                #k::__private::enqueue_with(target, job, options)
            }

            #[doc = #insert_doc]
            #vis fn insert<'a, E: #k::__private::Enqueue + 'a>(
                target: E,
                job: Self,
                options: #k::__private::EnqueueOptions,
            ) -> #k::__private::BoxFuture<
                'a,
                ::core::result::Result<#k::__private::Enqueued, #k::__private::Error>,
            > {
                #k::__private::insert(target, job, options)
            }

            #[doc = #enqueue_many_doc]
            #vis fn enqueue_many<'a, E, I>(
                target: E,
                jobs: I,
            ) -> #k::__private::BoxFuture<
                'a,
                ::core::result::Result<::std::vec::Vec<#k::__private::JobId>, #k::__private::Error>,
            >
            where
                E: #k::__private::Enqueue + 'a,
                I: ::core::iter::IntoIterator<Item = Self>,
            {
                #k::__private::enqueue_many(target, jobs)
            }

            #[doc = #run_now_doc]
            #run_now
        }
    }
}

/// The `inventory` submission that workers find the job by.
fn registration(def: &JobDef) -> TokenStream {
    let k = &def.crate_path;
    let struct_ident = &def.struct_ident;
    // `line!()` at the fn's name: duplicate-name errors point at the fn.
    let span = def.fn_ident.span();
    let file = quote_spanned! {span=> ::core::file!() };
    let line = quote_spanned! {span=> ::core::line!() };
    quote! {
        #k::__private::inventory::submit! {
            #k::__private::Registration::new::<#struct_ident>(#file, #line)
        }
    }
}

/// `#[serde(crate = "…")]` for the serde that kiribi re-exports. The string takes the
/// span of the crate path, so that a `crate::…` override resolves where the job is.
fn serde_crate(k: &syn::Path) -> syn::LitStr {
    let path = quote!(#k::__private::serde).to_string().replace(' ', "");
    let span = k
        .segments
        .first()
        .map_or_else(Span::call_site, |segment| segment.ident.span());
    syn::LitStr::new(&path, span)
}

/// `tokens` at `span`: for the kiribi path of a call whose bound is reported on the
/// user's type, so that the error neither points at nor mentions the attribute.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|token| match token {
            TokenTree::Group(group) => {
                let mut moved = Group::new(group.delimiter(), respan(group.stream(), span));
                moved.set_span(span);
                TokenTree::Group(moved)
            }
            mut other => {
                other.set_span(span);
                other
            }
        })
        .collect()
}

/// The payload parameters, in order.
fn payload(def: &JobDef) -> impl Iterator<Item = (&syn::Ident, &syn::Type)> {
    def.params.iter().filter_map(|param| match param {
        Param::Payload { ident, ty } => Some((ident, ty)),
        Param::Injected { .. } => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_str(attr: TokenStream, item: TokenStream) -> String {
        let item: syn::ItemFn = syn::parse2(item).expect("a fn");
        let def = crate::parse::parse(attr, &item).expect("valid");
        expand(&def).to_string()
    }

    fn kiribi() -> syn::Path {
        syn::parse_quote!(::kiribi)
    }

    fn resize() -> TokenStream {
        quote! {
            pub async fn resize(ctx: JobContext, State(db): State<Db>, path: String, mut width: u32)
                -> anyhow::Result<u64> { Ok(1) }
        }
    }

    #[test]
    fn config_has_a_call_per_given_key() {
        let config = config(
            &kiribi(),
            &Config {
                name: "media.resize".into(),
                queue: Some("media".into()),
                max_attempts: Some(5),
                backoff: Some(Backoff::Fixed),
                retry_delay: Some(Duration::from_millis(2500)),
                timeout: Some(Duration::from_secs(30)),
                priority: Some(-3),
                unique: Some(crate::parse::UniqueDef {
                    fields: Some(vec![Ident::new("user_id", Span::call_site())]),
                    period: Some(Duration::from_secs(3600)),
                }),
                concurrency: Some(2),
                concurrency_key: Some(Ident::new("user_id", Span::call_site())),
                rate_limit: Some((10, Duration::from_secs(1))),
                cron: Some("0 9 * * 1-5".into()),
                timezone: Some("Asia/Tokyo".into()),
            },
        );
        assert_eq!(
            config.to_string(),
            quote! {
                ::kiribi::__private::JobConfig::new("media.resize")
                    .queue("media")
                    .max_attempts(5u32)
                    .backoff(::kiribi::__private::Backoff::Fixed)
                    .retry_delay(::kiribi::__private::Duration::from_millis(2500u64))
                    .timeout(::kiribi::__private::Duration::from_secs(30u64))
                    .priority(-3i32)
                    .unique(
                        ::kiribi::__private::Unique::fields(&["user_id"])
                            .period(::kiribi::__private::Duration::from_secs(3600u64))
                    )
                    .concurrency(2u32)
                    .concurrency_key("user_id")
                    .rate_limit(::kiribi::__private::RateLimit::new(
                        10u32,
                        ::kiribi::__private::Duration::from_secs(1u64)
                    ))
                    .cron("0 9 * * 1-5")
                    .timezone("Asia/Tokyo")
            }
            .to_string()
        );
        let defaults = super::config(
            &kiribi(),
            &Config {
                name: "ping".into(),
                ..Config::default()
            },
        );
        assert_eq!(
            defaults.to_string(),
            quote!(::kiribi::__private::JobConfig::new("ping")).to_string()
        );
    }

    #[test]
    fn durations_are_exact() {
        let text = |d| duration(&kiribi(), d).to_string().replace(' ', "");
        assert_eq!(
            text(Duration::from_secs(5)),
            "::kiribi::__private::Duration::from_secs(5u64)"
        );
        assert_eq!(
            text(Duration::from_millis(250)),
            "::kiribi::__private::Duration::from_millis(250u64)"
        );
        assert_eq!(
            text(Duration::new(1, 5)),
            "::kiribi::__private::Duration::new(1u64,5u32)"
        );
    }

    #[test]
    fn fn_without_payload_ignores_its_unit_struct() {
        let out = expand_str(
            quote!(),
            quote! { async fn ping(ctx: JobContext) -> Result<(), String> { Ok(()) } },
        );
        assert!(out.contains(&quote!(let _ = self;).to_string()), "{out}");
    }

    #[test]
    fn errors_are_classified_without_naming_internals_at_the_error_type() {
        let out = expand_str(quote!(), resize());
        assert!(
            out.contains("match (& kiribi_error) . kiribi_error_kind () . classify (kiribi_error)"),
            "{out}"
        );
        assert!(
            out.contains(
                "Err (kiribi_error) => :: kiribi :: __private :: into_job_error :: << anyhow :: \
                 Result < u64 > as :: kiribi :: __private :: JobReturn > :: Error > (kiribi_error)"
            ),
            "{out}"
        );
    }

    #[test]
    fn call_keeps_the_original_argument_order() {
        let out = expand_str(quote!(), resize());
        assert!(
            out.contains(
                "resize (__kiribi_arg0 , __kiribi_arg1 , __kiribi_arg2 , __kiribi_arg3) . await"
            ),
            "{out}"
        );
        assert!(
            out.contains("let Self { path : __kiribi_arg2 , width : __kiribi_arg3 , } = self ;"),
            "{out}"
        );
        assert!(
            out.contains(
                "< State < Db > as :: kiribi :: __private :: FromContext > :: from_context"
            ),
            "{out}"
        );
    }

    #[test]
    fn generated_paths_are_absolute() {
        let out = expand_str(quote!(name = "x", timeout = "1s"), resize());
        let tokens: Vec<&str> = out.split(' ').collect();
        // Names a user may shadow only ever appear after `::`.
        for (i, token) in tokens.iter().enumerate() {
            if [
                "Ok", "Err", "Box", "Result", "Option", "Send", "Vec", "Duration",
            ]
            .contains(token)
            {
                assert_eq!(tokens[i - 1], "::", "bare `{token}` in {out}");
            }
        }
    }

    #[test]
    fn kiribi_is_only_named_through_private() {
        let out = expand_str(
            quote!(name = "x", backoff = "fixed", timeout = "1s"),
            resize(),
        );
        let tokens: Vec<&str> = out.split(' ').collect();
        for (i, token) in tokens.iter().enumerate() {
            if *token == "kiribi" && tokens[i - 1] == "::" && tokens[i + 1] == "::" {
                assert_eq!(
                    tokens[i + 2],
                    "__private",
                    "`::kiribi::{}` in {out}",
                    tokens[i + 2]
                );
            }
        }
        assert!(
            out.contains(r#"crate = "::kiribi::__private::serde""#),
            "{out}"
        );
    }

    #[test]
    fn the_crate_override_replaces_every_kiribi_path() {
        let out = expand_str(
            quote!(
                crate = "crate::facade::jobs",
                backoff = "fixed",
                timeout = "1s"
            ),
            resize(),
        );
        assert!(!out.contains("kiribi ::"), "{out}");
        assert!(
            out.contains("impl crate :: facade :: jobs :: __private :: Job for Resize"),
            "{out}"
        );
        assert!(
            out.contains("crate :: facade :: jobs :: __private :: Backoff :: Fixed"),
            "{out}"
        );
        assert!(
            out.contains(r#"crate = "crate::facade::jobs::__private::serde""#),
            "{out}"
        );
    }

    #[test]
    fn cfg_attributes_are_repeated_on_every_item() {
        let out = expand_str(
            quote!(),
            quote! { #[cfg(feature = "mail")] async fn mail(to: String) -> Result<(), String> { Ok(()) } },
        );
        // The struct, its `Serialize` impl, its `Deserialize` block, the `Job` impl, the
        // methods and the registration.
        assert_eq!(
            out.matches("# [cfg (feature = \"mail\")]").count(),
            6,
            "{out}"
        );
    }
}

//! The job fn's signature: its shape, its parameters (injected or payload) and its return type.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{FnArg, GenericArgument, Ident, Pat, PathArguments, ReturnType, Signature, Type};

use super::{Errors, Param};

/// Everything about the fn's shape other than its parameters and return type.
pub(super) fn check_signature(sig: &Signature) -> syn::Result<()> {
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

pub(super) fn parse_return(sig: &Signature) -> syn::Result<Type> {
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
pub(super) fn result_arg_spans(ret: &Type) -> (Span, Span) {
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

pub(super) fn parse_params(sig: &Signature) -> syn::Result<Vec<Param>> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::tests::{parse_err, parse_ok};
    use quote::quote;

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
}

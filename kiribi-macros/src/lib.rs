//! The `#[job]` attribute of [kiribi](https://docs.rs/kiribi).
//!
//! Use it through `kiribi::job`; this crate is an implementation detail of kiribi
//! and its expansion names only `::kiribi::…` paths (or the `crate = "…"` path).
//! Examples that compile and run are on `kiribi::job`.

mod expand;
mod parse;

use proc_macro::TokenStream;
use quote::quote;

/// Turns an `async fn` into a background job.
///
/// ```text
/// #[job(queue = "media", max_attempts = 5, backoff = "exponential", retry_delay = "2s",
///       timeout = "30s", priority = 10, name = "media.resize")]
/// pub async fn resize(ctx: JobContext, State(db): State<Db>, path: String, width: u32)
///     -> anyhow::Result<u64>
/// { … }
/// ```
///
/// The fn stays as written and callable. Next to it, `#[job]` generates:
///
/// - **The payload struct**, named after the fn in UpperCamelCase, with the fn's
///   visibility and one public field per payload parameter, in order (`mut` dropped);
///   a unit struct when there is none:
///
///   ```text
///   #[derive(serde::Serialize, serde::Deserialize, Debug, Clone)]
///   pub struct Resize { pub path: String, pub width: u32 }
///   ```
///
///   `Serialize` and `Deserialize` behave exactly as serde's derive (the same JSON, an
///   absent `Option` field is `None`, unknown fields are ignored); they are written out
///   so that an argument type that is not serde is reported once per missing trait, on
///   that type.
///
/// - **`impl kiribi::Job for Resize`**, whose `run` extracts the injected parameters,
///   calls `resize` with the arguments in their original order and turns an `Err(e)`
///   into a `JobError` (keeping `JobError::permanent` when `e` is, or wraps, a
///   `JobError`):
///
///   ```text
///   impl kiribi::Job for Resize {
///       const CONFIG: JobConfig = JobConfig::new("media.resize").queue("media") /* … */;
///       type Output = u64;
///       fn run(self, ctx: JobContext) -> BoxFuture<'static, Result<u64, JobError>> {
///           Box::pin(async move {
///               let Resize { path, width } = self;
///               let state = State::<Db>::from_context(&ctx)?; // fails if not registered
///               resize(ctx.clone(), state, path, width).await.map_err(classify)
///           })
///       }
///   }
///   ```
///
/// - **Methods** on the struct: `Resize::enqueue(target, job)`,
///   `Resize::enqueue_with(target, job, options)`, `Resize::enqueue_many(target, jobs)`
///   and `Resize::run_now(&kiribi, job)`, where `target` is `&Kiribi`, `&JobContext`
///   or a backend connection or transaction (`&mut *tx`).
///
/// - **The registration** (through `inventory`): workers find the job by its name
///   without any manual list.
///
/// # Parameters
///
/// - `JobContext` and `State<T>` parameters are *injected*, in any position. They are
///   recognised by the last segment of their type (`kiribi::JobContext` works too), may
///   use irrefutable patterns (`State(db): State<Db>`) and must be taken by value.
///   Several `JobContext` parameters are allowed; each gets a clone.
/// - Every other parameter is *payload*: a plain name (optionally `mut`) of an owned
///   type that is `Serialize + DeserializeOwned + Debug + Clone + Send + 'static`.
///   References (`&str`) and `impl Trait` are rejected: use `String` and concrete
///   types.
///
/// # Return type
///
/// `Result<T, E>`, or an alias such as `anyhow::Result<T>`, where `T` is
/// `Serialize + Send + 'static` (stored as the job's result; `()` stores nothing) and
/// `E` implements `Display` (`String`, `anyhow::Error`, `Box<dyn Error + Send + Sync>`,
/// `kiribi::JobError`, an error enum). The fn's future must be `Send`.
///
/// # Keys
///
/// Each key is optional and may be given once; only the keys given change the
/// defaults of `JobConfig::new(name)`.
///
/// | key | value | default | equivalent hand-written code |
/// |---|---|---|---|
/// | `name` | non-empty string, stored in the database: keep it stable across renames | the fn's name | `JobConfig::new("media.resize")` |
/// | `queue` | non-empty string | `"default"` | `.queue("media")` |
/// | `max_attempts` | integer ≥ 1, total attempts including the first | `5` | `.max_attempts(5)` |
/// | `backoff` | `"exponential"` (with jitter and a cap), `"fixed"` or `"linear"` | `"exponential"` | `.backoff(Backoff::Exponential)` |
/// | `retry_delay` | [humantime](https://docs.rs/humantime) duration: `"250ms"`, `"2s"`, `"5m"`, `"1h 30m"` | `"1s"` | `.retry_delay(Duration::from_secs(2))` |
/// | `timeout` | humantime duration, longer than zero | none | `.timeout(Duration::from_secs(30))` |
/// | `priority` | `i32` literal, may be negative; higher runs first | `0` | `.priority(10)` |
/// | `crate` | path of the kiribi crate, for a renamed or re-exported kiribi | `"::kiribi"` | the generated code names `my_facade::kiribi::Job` … instead of `::kiribi::Job` … |
/// | `cron` | cron expression: 5 fields (minute first), 6 fields (seconds first), or `@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`; only on a job without payload parameters | none | `.cron("0 9 * * 1-5")`: every worker declares the schedule, named after the job |
/// | `timezone` | IANA time zone of `cron`; ticks follow its daylight-saving changes | `"UTC"` | `.timezone("Asia/Tokyo")` |
/// | `unique` | `unique` (a key made of the whole payload) or `unique(fields = [a, b], period = "1h")`: the key is made of those payload fields; with a period it is held for that window (aligned to the Unix epoch) whatever becomes of the job, else while the job is unfinished | not unique | `.unique(Unique::fields(&["user_id"]).period(Duration::from_secs(3600)))` |
/// | `concurrency` | integer ≥ 1: at most this many attempts run at once, across every worker (per `concurrency_key` value, when set) | no limit | `.concurrency(2)` |
/// | `concurrency_key` | a payload field: `concurrency` and `rate_limit` hold per distinct value of it | one group for the job | `.concurrency_key("account_id")` |
/// | `rate_limit` | `"N/duration"`: at most N attempts start in any window of that humantime duration, across every worker (per `concurrency_key` value, when set) | no limit | `.rate_limit(RateLimit::new(10, Duration::from_secs(1)))` |
///
/// Durations are parsed at compile time: a typo is a compile error, not a failure at
/// run time.
///
/// The generated code names kiribi as `::kiribi`. A crate that reaches kiribi under
/// another name, through a facade that re-exports it, says where with `crate`, as with
/// serde's and tokio's attributes; a path in the string resolves where the job is
/// written:
///
/// ```text
/// mod facade { pub use ::kiribi as jobs; }
///
/// #[facade::jobs::job(crate = "crate::facade::jobs")]
/// async fn ping() -> Result<(), String> { Ok(()) }
/// ```
///
/// # Errors
///
/// Every misuse is a compile error at the offending token: an unknown or repeated key,
/// a bad value, a fn that is not `async` or is `const`, `unsafe`, `extern`, generic or
/// variadic, a `self` parameter, a payload parameter that is a pattern, a reference or
/// `impl Trait`, a payload type that is not serializable (reported on that type), a
/// return type that is not a `Result`, a future that is not `Send`.
///
/// The payload struct's name must differ from the fn's: name the fn in snake_case.
#[proc_macro_attribute]
pub fn job(attr: TokenStream, item: TokenStream) -> TokenStream {
    job_impl(attr.into(), item.into()).into()
}

/// The whole macro on `proc_macro2` tokens. On error, the item is emitted unchanged
/// next to the errors so that the rest of the crate (and rust-analyzer) still sees it.
fn job_impl(
    attr: proc_macro2::TokenStream,
    item: proc_macro2::TokenStream,
) -> proc_macro2::TokenStream {
    let item_fn = match syn::parse2::<syn::Item>(item.clone()) {
        Ok(syn::Item::Fn(item_fn)) => item_fn,
        Ok(other) => {
            let error = syn::Error::new_spanned(
                &other,
                "`#[job]` goes on an `async fn`; its parameters become the job's arguments",
            );
            return with_errors(item, error);
        }
        Err(error) => return with_errors(item, error),
    };
    match parse::parse(attr, &item_fn) {
        Ok(def) => {
            let generated = expand::expand(&def);
            quote! {
                #item
                #generated
            }
        }
        Err(error) => with_errors(item, error),
    }
}

fn with_errors(item: proc_macro2::TokenStream, error: syn::Error) -> proc_macro2::TokenStream {
    let errors = error.to_compile_error();
    quote! {
        #item
        #errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_keep_the_original_item() {
        let item = quote! { fn not_async(x: u8) -> Result<(), String> { Ok(()) } };
        let out = job_impl(quote!(queue = 1), item.clone()).to_string();
        assert!(out.starts_with(&item.to_string()), "{out}");
        assert_eq!(out.matches("compile_error").count(), 2, "{out}");
    }

    #[test]
    fn non_fn_items_are_rejected() {
        let out = job_impl(quote!(), quote! { struct Resize; }).to_string();
        assert!(out.contains("`#[job]` goes on an `async fn`"), "{out}");
    }

    #[test]
    fn success_emits_the_fn_unchanged_then_the_job() {
        let item = quote! { async fn ping() -> Result<(), String> { Ok(()) } };
        let out = job_impl(quote!(), item.clone()).to_string();
        assert!(out.starts_with(&item.to_string()), "{out}");
        assert!(
            out.contains("impl :: kiribi :: __private :: Job for Ping"),
            "{out}"
        );
    }
}

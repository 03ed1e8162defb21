//! What `#[job]` expansions call with the user's types: turning a job's `Err(e)` into
//! a `JobError`, and writing and reading job arguments.
//!
//! Each of these is where a user's type can miss a trait, so each is shaped for the
//! compile error it gives: one error per missing trait, on the user's type, naming
//! only that type, kiribi's public items and the traits the type lacks.
//!
//! # Classifying errors
//!
//! `#[job]` accepts any error type that implements `Display`. An error that converts
//! into a `Box<dyn Error + Send + Sync>` (every `std::error::Error + Send + Sync`
//! type, `anyhow::Error`, `eyre::Report`, boxes, `String`) is kept whole with
//! [`JobError::from_error`]: a [`JobError`] anywhere in its source chain is honoured
//! (so is `JobError::permanent`), and `run_now`'s caller can reach the typed error.
//! Any other error is retryable with its message. The choice is made at compile time by autoref specialisation, as anyhow's
//! `anyhow!` does; the generated code is
//!
//! ```text
//! match (&error).kiribi_error_kind().classify(error) {
//!     Ok(job_error) => job_error,
//!     Err(error) => into_job_error(error),
//! }
//! ```
//!
//! `kiribi_error_kind` resolves to [`ErrorChainKind`] when the error converts into a
//! boxed `dyn Error` and to [`OtherKind`], which applies
//! to every type, otherwise; so method resolution never fails. An error without
//! `Display` is then reported once, by [`into_job_error`]'s bound, on the user's type.
//!
//! # Job arguments
//!
//! The payload struct's `Serialize` impl writes each field through
//! [`serialize_argument`], and its `Deserialize` impl reads each field through a
//! wrapper whose impl calls [`deserialize_argument`]: these impls exist whatever the
//! fields' types, so the only errors a non-serde argument causes are the bounds of
//! these two functions, at the argument's type, with the message of
//! [`SerializeArgument`] / [`DeserializeArgument`].

use std::any::Any;
use std::error::Error as StdError;
use std::fmt::Display;
use std::ops::Deref;

use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize};

use crate::JobError;

/// Chosen for errors that convert into `Box<dyn Error + Send + Sync>`: they are kept,
/// and their source chain may hold a `JobError`.
#[doc(hidden)]
#[derive(Clone, Copy)]
pub struct ErrorChain;

/// Chosen for every other error: a `JobError` itself is kept, anything else is handed
/// back to become a retryable one through [`into_job_error`].
#[doc(hidden)]
#[derive(Clone, Copy)]
pub struct Other;

/// Preferred: applies (to `&E`, by value) when `E` converts into a boxed `dyn Error`.
#[doc(hidden)]
pub trait ErrorChainKind {
    /// Picks [`ErrorChain`].
    fn kiribi_error_kind(&self) -> ErrorChain {
        ErrorChain
    }
}

impl<E> ErrorChainKind for E where
    E: Deref<Target = dyn StdError + Send + Sync + 'static> + Display + Send + Sync + 'static
{
}

/// Chosen for errors that are `std::error::Error + Send + Sync` themselves (a
/// thiserror enum, `std::io::Error`, `JobError`): they are kept, and their source
/// chain may hold a `JobError`.
#[doc(hidden)]
#[derive(Clone, Copy)]
pub struct Typed;

/// Preferred too: applies (to `&E`, by value) when `E` is an error type. No type
/// is both an error and a pointer to `dyn Error`, so it never competes with
/// [`ErrorChainKind`].
#[doc(hidden)]
pub trait TypedKind {
    /// Picks [`Typed`].
    fn kiribi_error_kind(&self) -> Typed {
        Typed
    }
}

impl<E> TypedKind for E where E: StdError + Send + Sync + 'static {}

/// Fallback: applies (to `&&E`, after autoref) to every `E`.
#[doc(hidden)]
pub trait OtherKind {
    /// Picks [`Other`].
    fn kiribi_error_kind(&self) -> Other {
        Other
    }
}

impl<E: ?Sized> OtherKind for &E {}

impl ErrorChain {
    /// The error, kept: permanent if a permanent `JobError` is in its chain.
    pub fn classify<E>(self, error: E) -> Result<JobError, E>
    where
        E: Deref<Target = dyn StdError + Send + Sync + 'static> + Send + Sync + 'static,
    {
        Ok(JobError::from_error_pointer(error))
    }
}

impl Typed {
    /// The error, kept: permanent if it is, or its chain holds, a permanent
    /// `JobError`.
    pub fn classify<E>(self, error: E) -> Result<JobError, E>
    where
        E: StdError + Send + Sync + 'static,
    {
        Ok(JobError::from_error(error))
    }
}

impl Other {
    /// A `JobError` keeps its permanence; any other error is handed back.
    pub fn classify<E: 'static>(self, error: E) -> Result<JobError, E> {
        match (&error as &dyn Any).downcast_ref::<JobError>() {
            Some(job_error) => Ok(job_error.clone()),
            None => Err(error),
        }
    }
}

/// A job's error type has a message to keep with the failed attempt.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a job's error",
    label = "a job's error must implement `Display`",
    note = "its message is kept with the failed attempt: return a `String`, an \
            `anyhow::Error`, a `Box<dyn Error + Send + Sync>`, a `kiribi::JobError` or \
            any type that implements `Display`"
)]
pub trait ErrorMessage: Display {}

impl<T: ?Sized + Display> ErrorMessage for T {}

/// A retryable `JobError` with `error`'s message: what becomes of the errors that
/// [`Other::classify`] hands back.
#[doc(hidden)]
pub fn into_job_error<E: ErrorMessage>(error: E) -> JobError {
    JobError::new(error)
}

/// A job argument's type can be written as JSON.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a job argument",
    label = "job arguments are stored as JSON",
    note = "a job argument must be an owned type that implements `serde::Serialize`, \
            `serde::Deserialize`, `Debug`, `Clone` and `Send`: derive them, and use \
            owned types (`String`, not `&str`)"
)]
pub trait SerializeArgument: Serialize {}

impl<T: ?Sized + Serialize> SerializeArgument for T {}

/// A job argument's type can be read back from JSON.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a job argument",
    label = "job arguments are stored as JSON",
    note = "a job argument must be an owned type that implements `serde::Serialize`, \
            `serde::Deserialize`, `Debug`, `Clone` and `Send`: derive them, and use \
            owned types (`String`, not `&str`)"
)]
pub trait DeserializeArgument<'de>: Deserialize<'de> {}

impl<'de, T: Deserialize<'de>> DeserializeArgument<'de> for T {}

/// Writes one field of a payload struct.
///
/// # Errors
///
/// Whatever the serializer reports.
#[doc(hidden)]
pub fn serialize_argument<S, T>(
    fields: &mut S,
    name: &'static str,
    value: &T,
) -> Result<(), S::Error>
where
    S: SerializeStruct,
    T: ?Sized + SerializeArgument,
{
    fields.serialize_field(name, value)
}

/// Reads one field of a payload struct.
///
/// # Errors
///
/// Whatever the deserializer reports.
#[doc(hidden)]
pub fn deserialize_argument<'de, T, D>(deserializer: D) -> Result<T, D::Error>
where
    T: DeserializeArgument<'de>,
    D: Deserializer<'de>,
{
    T::deserialize(deserializer)
}

/// Splits a job fn's return type into its `Ok` and `Err` types.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "a job must return `Result<T, E>`, not `{Self}`",
    label = "return `Result<T, E>` where `E: Display`",
    note = "`anyhow::Result<T>` and other aliases of `Result` work too"
)]
pub trait JobReturn {
    /// The `Ok` type.
    type Output;
    /// The `Err` type.
    type Error;

    /// The value as the `Result` it is.
    fn into_result(self) -> Result<Self::Output, Self::Error>;
}

impl<T, E> JobReturn for Result<T, E> {
    type Output = T;
    type Error = E;

    fn into_result(self) -> Self {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Exactly the code `#[job]` generates for `Err(error)`.
    macro_rules! classify {
        ($error:expr) => {{
            let error = $error;
            #[allow(unused_imports, reason = "as generated")]
            use super::{ErrorChainKind as _, OtherKind as _, TypedKind as _};
            match (&error).kiribi_error_kind().classify(error) {
                Ok(job_error) => job_error,
                Err(error) => into_job_error(error),
            }
        }};
    }

    #[derive(Debug)]
    struct OnlyDisplay;

    impl Display for OnlyDisplay {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("only display")
        }
    }

    #[test]
    fn job_error_permanence_is_kept() {
        let err = classify!(JobError::permanent("gone"));
        assert!(err.is_permanent());
        assert_eq!(err.message(), "gone");
        assert!(!classify!(JobError::new("flaky")).is_permanent());
    }

    #[test]
    fn permanent_error_inside_anyhow_is_found() {
        let err = anyhow::Error::new(JobError::permanent("gone")).context("while mailing");
        let classified = classify!(err);
        assert!(classified.is_permanent(), "{classified:?}");
    }

    #[test]
    fn permanent_error_inside_a_box_is_found() {
        let err: Box<dyn StdError + Send + Sync> = Box::new(JobError::permanent("gone"));
        assert!(classify!(err).is_permanent());
    }

    #[test]
    fn permanent_error_directly_in_anyhow_is_found() {
        let err: anyhow::Error = JobError::permanent("gone").into();
        assert!(classify!(err).is_permanent());
    }

    #[test]
    fn strings_and_display_types_are_retryable() {
        let s = classify!(String::from("flaky"));
        assert!(!s.is_permanent());
        assert_eq!(s.message(), "flaky");
        let d = classify!(OnlyDisplay);
        assert_eq!(d.message(), "only display");
        let r = classify!("a str");
        assert_eq!(r.message(), "a str");
    }

    #[derive(Debug)]
    struct Mail(std::io::Error);

    impl Display for Mail {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("sending mail")
        }
    }

    impl StdError for Mail {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn a_typed_error_is_kept_whole() {
        let err = classify!(Mail(std::io::Error::other("connection refused")));
        assert!(!err.is_permanent());
        assert_eq!(err.message(), "sending mail: connection refused");
        assert!(err.downcast_ref::<Mail>().is_some());
        let boxed: Box<dyn StdError + Send + Sync> =
            Box::new(Mail(std::io::Error::other("refused")));
        assert!(classify!(boxed).downcast_ref::<Mail>().is_some());
        let wrapped = anyhow::Error::new(Mail(std::io::Error::other("refused")));
        assert!(classify!(wrapped).downcast_ref::<Mail>().is_some());
    }

    #[test]
    fn anyhow_context_keeps_the_chain_in_the_message() {
        let err = anyhow::anyhow!("connection refused").context("sending mail");
        let classified = classify!(err);
        assert_eq!(classified.message(), "sending mail: connection refused");
    }

    #[test]
    fn arguments_round_trip_through_the_helpers() {
        struct Args {
            name: String,
            width: Option<u32>,
        }
        impl Serialize for Args {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut fields = serializer.serialize_struct("Args", 2)?;
                serialize_argument(&mut fields, "name", &self.name)?;
                serialize_argument(&mut fields, "width", &self.width)?;
                fields.end()
            }
        }
        let json = serde_json::to_value(Args {
            name: "a".into(),
            width: None,
        })
        .expect("serializable");
        assert_eq!(json, serde_json::json!({ "name": "a", "width": null }));
        let width: Option<u32> =
            deserialize_argument(serde_json::json!(640)).expect("deserializable");
        assert_eq!(width, Some(640));
    }
}

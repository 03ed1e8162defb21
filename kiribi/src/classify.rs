//! Turning a job's `Err(e)` into a `JobError`, and the payload bound check.
//!
//! `#[job]` accepts any error type that implements `Display`. A [`JobError`] is
//! recognised (so that `JobError::permanent` is honoured) when the error is one, or
//! when it is an `anyhow::Error`, an `eyre::Report` or a `Box<dyn Error + Send + Sync>`
//! holding one anywhere in its source chain. Such errors, and every other type that
//! implements `Error`, are kept in the `JobError` ([`JobError::from_error`]), so that
//! `run_now`'s caller can downcast them; any other error is retryable with its
//! message. The choice is made at compile time by autoref specialisation: the
//! generated code calls `(&Classify::new(e)).__kiribi_classify()` on a concrete type,
//! and method resolution prefers, in this order, the `ViaStdError` impl for
//! `Classify<E>` (errors that dereference to `dyn Error`, as `anyhow::Error` and
//! boxes do), the one for `&Classify<E>` (errors that implement `Error`), and
//! `ViaDisplay`, whose `&mut self` puts it last.

use std::any::Any;
use std::cell::Cell;
use std::error::Error as StdError;
use std::fmt::Display;
use std::ops::Deref;

use crate::{BoxError, JobError};

/// Holds a job's error until one of the classify traits takes it.
#[doc(hidden)]
pub struct Classify<E>(Cell<Option<E>>);

impl<E> Classify<E> {
    /// Wraps the error.
    pub fn new(error: E) -> Self {
        Self(Cell::new(Some(error)))
    }

    fn take(&self) -> E {
        // Each generated call site classifies exactly once.
        match self.0.take() {
            Some(error) => error,
            None => unreachable!("a job error is classified once"),
        }
    }
}

/// Preferred: the error dereferences to a `dyn Error` (`anyhow::Error`,
/// `eyre::Report`, `Box<dyn Error + Send + Sync>`), whose chain may hold a `JobError`.
#[doc(hidden)]
pub trait ViaStdError {
    /// Classifies the error.
    fn __kiribi_classify(&self) -> JobError;
}

impl<E> ViaStdError for Classify<E>
where
    E: Deref<Target = dyn StdError + Send + Sync + 'static> + Into<BoxError>,
{
    fn __kiribi_classify(&self) -> JobError {
        let error = self.take();
        // Looked for before boxing: `anyhow` boxes its own wrapper around its error.
        match (*error).downcast_ref::<JobError>() {
            Some(job_error) => job_error.clone(),
            None => JobError::from_error(error),
        }
    }
}

/// Next: an error type that implements `Error`, such as a thiserror enum.
impl<E: StdError + Send + Sync + 'static> ViaStdError for &Classify<E> {
    fn __kiribi_classify(&self) -> JobError {
        JobError::from_error(self.take())
    }
}

/// Fallback: any other `Display` error is retryable with its message.
#[doc(hidden)]
pub trait ViaDisplay {
    /// Classifies the error.
    fn __kiribi_classify(&mut self) -> JobError;
}

impl<E: Display + 'static> ViaDisplay for &Classify<E> {
    fn __kiribi_classify(&mut self) -> JobError {
        let error = self.take();
        match (&error as &dyn Any).downcast_ref::<JobError>() {
            Some(job_error) => job_error.clone(),
            None => JobError::new(error),
        }
    }
}

/// The bound every job argument must meet, with an error message that says so.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a job argument",
    label = "job arguments are stored as JSON",
    note = "a job argument must be an owned type that implements `serde::Serialize`, \
            `serde::Deserialize`, `Debug`, `Clone` and `Send`: derive them, and use \
            owned types (`String`, not `&str`)"
)]
pub trait Payload:
    serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug + Clone + Send + 'static
{
}

impl<T> Payload for T where
    T: serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug + Clone + Send + 'static
{
}

/// Compile-time check emitted by `#[job]` at each argument's type.
#[doc(hidden)]
pub const fn assert_payload<T: Payload>() {}

/// The bound on a job's `Ok` value.
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a job's result",
    label = "a job's `Ok` value is stored as JSON",
    note = "return a type that implements `serde::Serialize + Send + 'static`, or `()`"
)]
pub trait JobOutput: serde::Serialize + Send + 'static {}

impl<T> JobOutput for T where T: serde::Serialize + Send + 'static {}

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
}

impl<T, E> JobReturn for Result<T, E> {
    type Output = T;
    type Error = E;
}

#[cfg(test)]
#[allow(
    clippy::needless_borrow,
    reason = "the tests spell the call exactly as `#[job]` generates it; the `&` picks the impl"
)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct OnlyDisplay;

    impl Display for OnlyDisplay {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("only display")
        }
    }

    #[test]
    fn an_error_type_is_kept_for_downcasting() {
        let err = std::io::Error::other("connection refused");
        let classified = (&Classify::new(err)).__kiribi_classify();
        assert!(classified.downcast_ref::<std::io::Error>().is_some());
        assert!(!classified.is_permanent());
        let err = anyhow::Error::new(std::io::Error::other("refused")).context("sending mail");
        let classified = (&Classify::new(err)).__kiribi_classify();
        assert!(classified.downcast_ref::<std::io::Error>().is_some());
        assert_eq!(classified.message(), "sending mail: refused");
    }

    #[test]
    fn job_error_permanence_is_kept() {
        let err = (&Classify::new(JobError::permanent("gone"))).__kiribi_classify();
        assert!(err.is_permanent());
        assert_eq!(err.message(), "gone");
    }

    #[test]
    fn permanent_error_inside_anyhow_is_found() {
        let err = anyhow::Error::new(JobError::permanent("gone")).context("while mailing");
        let classified = (&Classify::new(err)).__kiribi_classify();
        assert!(classified.is_permanent(), "{classified:?}");
    }

    #[test]
    fn permanent_error_inside_a_box_is_found() {
        let err: Box<dyn StdError + Send + Sync> = Box::new(JobError::permanent("gone"));
        assert!((&Classify::new(err)).__kiribi_classify().is_permanent());
    }

    #[test]
    fn permanent_error_directly_in_anyhow_is_found() {
        let err: anyhow::Error = JobError::permanent("gone").into();
        assert!((&Classify::new(err)).__kiribi_classify().is_permanent());
    }

    #[test]
    fn strings_and_display_types_are_retryable() {
        let s = (&Classify::new(String::from("flaky"))).__kiribi_classify();
        assert!(!s.is_permanent());
        assert_eq!(s.message(), "flaky");
        let d = (&Classify::new(OnlyDisplay)).__kiribi_classify();
        assert_eq!(d.message(), "only display");
    }

    #[test]
    fn anyhow_context_keeps_the_chain_in_the_message() {
        let err = anyhow::anyhow!("connection refused").context("sending mail");
        let classified = (&Classify::new(err)).__kiribi_classify();
        assert_eq!(classified.message(), "sending mail: connection refused");
    }
}

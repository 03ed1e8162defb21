//! The process-wide job registry that `#[job]` fills through `inventory`.

use std::collections::HashMap;

use serde_json::Value;

use crate::job::BoxFuture;
use crate::{Error, Job, JobConfig, JobContext, JobError};

/// A type-erased attempt: payload JSON in, result JSON (or the job's error) out.
pub(crate) type ErasedRun =
    fn(JobContext, Value) -> BoxFuture<'static, Result<Option<Value>, JobError>>;

/// One `#[job]` as submitted to `inventory`.
#[doc(hidden)]
#[derive(Debug)]
pub struct Registration {
    pub(crate) config: JobConfig,
    pub(crate) file: &'static str,
    pub(crate) line: u32,
    pub(crate) run: ErasedRun,
}

impl Registration {
    /// The registration of `J`, declared at `file:line`.
    pub const fn new<J: Job>(file: &'static str, line: u32) -> Self {
        Self {
            config: J::CONFIG,
            file,
            line,
            run: run_erased::<J>,
        }
    }

    fn location(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }
}

inventory::collect!(Registration);

/// Decodes the payload (naming the field that does not fit), runs the job and
/// encodes its output.
fn run_erased<J: Job>(
    ctx: JobContext,
    payload: Value,
) -> BoxFuture<'static, Result<Option<Value>, JobError>> {
    Box::pin(async move {
        let permanent = |error: Error| JobError::from_error(error).into_permanent();
        let job: J = decode_payload(J::CONFIG.name, payload).map_err(permanent)?;
        let output = job.run(ctx).await?;
        encode_result(J::CONFIG.name, &output).map_err(permanent)
    })
}

/// Deserializes a payload, naming the path of the first mismatch.
pub(crate) fn decode_payload<J: serde::de::DeserializeOwned>(
    name: &str,
    payload: Value,
) -> Result<J, Error> {
    serde_path_to_error::deserialize(payload).map_err(|err| {
        let path = err.path().to_string();
        Error::Payload {
            job: name.to_owned(),
            path,
            source: err.into_inner(),
        }
    })
}

/// Serializes a payload for storage.
pub(crate) fn encode_payload<J: Job>(job: &J) -> Result<Value, Error> {
    serde_json::to_value(job).map_err(|source| Error::Serialization {
        job: J::CONFIG.name.to_owned(),
        what: "payload",
        source,
    })
}

/// Serializes a job's output; `()` and `None` are stored as no result.
pub(crate) fn encode_result<T: serde::Serialize>(
    name: &str,
    output: &T,
) -> Result<Option<Value>, Error> {
    match serde_json::to_value(output) {
        Ok(Value::Null) => Ok(None),
        Ok(value) => Ok(Some(value)),
        Err(source) => Err(Error::Serialization {
            job: name.to_owned(),
            what: "result",
            source,
        }),
    }
}

/// The jobs linked into this binary, by name.
#[derive(Debug)]
pub(crate) struct Registry {
    jobs: HashMap<&'static str, &'static Registration>,
}

impl Registry {
    /// Collects every `#[job]` of the binary.
    ///
    /// # Errors
    ///
    /// [`Error::DuplicateJobName`] when two jobs share a name.
    pub(crate) fn collect() -> Result<Self, Error> {
        Self::from_registrations(inventory::iter::<Registration>)
    }

    fn from_registrations(
        registrations: impl IntoIterator<Item = &'static Registration>,
    ) -> Result<Self, Error> {
        let mut jobs: HashMap<&'static str, &'static Registration> = HashMap::new();
        for registration in registrations {
            if let Some(first) = jobs.insert(registration.config.name, registration) {
                // inventory's order is unspecified; report the two places in a stable order.
                let (mut a, mut b) = (first.location(), registration.location());
                if a > b {
                    std::mem::swap(&mut a, &mut b);
                }
                return Err(Error::DuplicateJobName {
                    name: registration.config.name.to_owned(),
                    first: a,
                    second: b,
                });
            }
        }
        Ok(Self { jobs })
    }

    pub(crate) fn get(&self, name: &str) -> Option<&'static Registration> {
        self.jobs.get(name).copied()
    }

    /// Every registered name, sorted.
    pub(crate) fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.jobs.keys().map(|n| (*n).to_owned()).collect();
        names.sort_unstable();
        names
    }

    /// The registered names whose jobs have limits (concurrency, rate), sorted.
    pub(crate) fn limited_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .jobs
            .iter()
            .filter(|(_, registration)| registration.config().is_limited())
            .map(|(name, _)| (*name).to_owned())
            .collect();
        names.sort_unstable();
        names
    }
}

impl Registration {
    pub(crate) fn config(&self) -> &JobConfig {
        &self.config
    }

    pub(crate) fn run(
        &self,
        ctx: JobContext,
        payload: Value,
    ) -> BoxFuture<'static, Result<Option<Value>, JobError>> {
        (self.run)(ctx, payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn never(_: JobContext, _: Value) -> BoxFuture<'static, Result<Option<Value>, JobError>> {
        Box::pin(async { Ok(None) })
    }

    static A: Registration = Registration {
        config: JobConfig::new("mail.send"),
        file: "src/a.rs",
        line: 3,
        run: never,
    };
    static B: Registration = Registration {
        config: JobConfig::new("mail.send"),
        file: "src/b.rs",
        line: 9,
        run: never,
    };

    #[test]
    fn duplicate_names_are_reported_with_both_locations() {
        let err = Registry::from_registrations([&B, &A])
            .unwrap_err()
            .to_string();
        assert!(err.contains("`mail.send`"), "{err}");
        assert!(
            err.contains("src/a.rs:3") && err.contains("src/b.rs:9"),
            "{err}"
        );
    }

    #[test]
    fn payload_errors_name_the_field() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code, reason = "only decoded")]
        struct Args {
            user_id: i64,
        }
        let err = decode_payload::<Args>("welcome", serde_json::json!({ "user_id": "seven" }))
            .unwrap_err()
            .to_string();
        assert!(err.contains("user_id"), "{err}");
    }
}

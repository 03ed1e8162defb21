//! `run_now` hands the job's own error back: the caller can downcast it to the job's
//! error type, and the error chain reads like the job's, with no line twice.

use std::error::Error as StdError;
use std::fmt;

use kiribi::{Error, JobError, JobStatus, Kiribi, job};
use kiribi_tests::TestDb;

/// An error type as `thiserror` would derive it: a message, and a source.
#[derive(Debug)]
enum PaymentError {
    Declined { card: u32, source: std::io::Error },
}

impl fmt::Display for PaymentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PaymentError::Declined { card, .. } => write!(f, "card {card} was declined"),
        }
    }
}

impl StdError for PaymentError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            PaymentError::Declined { source, .. } => Some(source),
        }
    }
}

fn hung_up() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::ConnectionReset, "the issuer hung up")
}

#[job]
async fn charge(card: u32) -> Result<(), PaymentError> {
    Err(PaymentError::Declined {
        card,
        source: hung_up(),
    })
}

#[job]
async fn charge_with_context(card: u32) -> anyhow::Result<()> {
    Err(anyhow::Error::new(hung_up()).context(format!("charging card {card}")))
}

/// The `JobError` a failed `run_now` carries as its source, after checking that no
/// line of the chain repeats the one before it, and that the chain reads `expected`.
fn job_error<'a>(err: &'a Error, expected: &str) -> &'a JobError {
    assert!(matches!(err, Error::JobFailed { .. }), "{err:?}");
    let mut lines = Vec::new();
    let mut current: Option<&dyn StdError> = Some(err);
    while let Some(error) = current {
        lines.push(error.to_string());
        current = error.source();
    }
    for (n, line) in lines.iter().enumerate() {
        assert!(
            !lines[n + 1..].contains(line),
            "`{line}` comes twice in the chain: {lines:?}"
        );
    }
    assert_eq!(kiribi::chain_text(err), expected);
    StdError::source(err)
        .expect("the job's error is the source")
        .downcast_ref::<JobError>()
        .expect("the source is a JobError")
}

/// The job's stored error: the whole chain on one line.
async fn last_error(kiribi: &Kiribi, err: &Error) -> String {
    let Error::JobFailed { id, .. } = err else {
        panic!("expected JobFailed, got {err:?}");
    };
    let record = kiribi.job(*id).await.unwrap().unwrap();
    assert_eq!(record.status, JobStatus::Failed);
    record.last_error.unwrap()
}

async fn run_now_keeps_the_jobs_typed_error(db: TestDb) {
    let kiribi = db.connect().await;
    let err = Charge::run_now(&kiribi, Charge { card: 4242 })
        .await
        .unwrap_err();
    let Error::JobFailed { id, .. } = &err else {
        panic!("expected JobFailed, got {err:?}");
    };
    let job_error = job_error(
        &err,
        &format!("job `charge` ({id}) failed: card 4242 was declined: the issuer hung up"),
    );
    let PaymentError::Declined { card, source } = job_error
        .downcast_ref::<PaymentError>()
        .expect("the job's own error type");
    assert_eq!(*card, 4242);
    assert_eq!(source.kind(), std::io::ErrorKind::ConnectionReset);
    assert!(job_error.get_ref().is_some());
    assert_eq!(
        last_error(&kiribi, &err).await,
        "card 4242 was declined: the issuer hung up"
    );
}

async fn run_now_keeps_an_anyhow_error_with_its_context(db: TestDb) {
    let kiribi = db.connect().await;
    let err = ChargeWithContext::run_now(&kiribi, ChargeWithContext { card: 7 })
        .await
        .unwrap_err();
    let Error::JobFailed { id, .. } = &err else {
        panic!("expected JobFailed, got {err:?}");
    };
    let job_error = job_error(
        &err,
        &format!("job `charge_with_context` ({id}) failed: charging card 7: the issuer hung up"),
    );
    let io = job_error
        .downcast_ref::<std::io::Error>()
        .expect("the error beneath the context");
    assert_eq!(io.kind(), std::io::ErrorKind::ConnectionReset);
    assert_eq!(
        last_error(&kiribi, &err).await,
        "charging card 7: the issuer hung up"
    );
}

kiribi_tests::backend_tests!(
    run_now_keeps_the_jobs_typed_error,
    run_now_keeps_an_anyhow_error_with_its_context,
);

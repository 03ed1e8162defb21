use std::fmt;

use kiribi::job;

/// Like a thiserror enum, but implementing only `Display` (not `Error`).
#[derive(Debug)]
enum MailError {
    Bounced(String),
    Throttled,
}

impl fmt::Display for MailError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bounced(to) => write!(f, "mail to {to} bounced"),
            Self::Throttled => f.write_str("throttled"),
        }
    }
}

#[job]
async fn mail(to: String) -> Result<(), MailError> {
    if to.is_empty() {
        return Err(MailError::Throttled);
    }
    Err(MailError::Bounced(to))
}

/// A full `std::error::Error`, as thiserror would derive.
#[derive(Debug)]
struct Boom;

impl fmt::Display for Boom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("boom")
    }
}

impl std::error::Error for Boom {}

#[job]
async fn explode() -> Result<(), Boom> {
    Err(Boom)
}

#[job]
async fn boxed() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    Err(Boom.into())
}

fn main() {}

//! A crate with strict lints: the expansion adds no warning of its own.
#![deny(warnings, missing_docs, unreachable_pub, rust_2018_idioms, unused)]
#![deny(clippy::all)]

use kiribi::job;

/// Documented, public, never enqueued.
#[job]
pub async fn public_job(user_id: i64) -> Result<(), String> {
    let _ = user_id;
    Ok(())
}

// Private and never enqueued: its unused methods are not dead code warnings.
#[job]
async fn private_job(mut count: u32) -> Result<u32, String> {
    count += 1;
    Ok(count)
}

pub(crate) mod inner {
    //! Restricted visibility is kept on the struct, its fields and methods.

    /// A crate-visible job.
    #[kiribi::job(name = "inner.crate_job")]
    pub(crate) async fn crate_job(r#type: String) -> Result<(), String> {
        let _ = r#type;
        Ok(())
    }
}

/// Constructs the crate-visible struct from outside its module.
pub fn build() -> impl std::fmt::Debug {
    inner::CrateJob {
        r#type: "x".to_owned(),
    }
}

fn main() {
    let _ = build();
}

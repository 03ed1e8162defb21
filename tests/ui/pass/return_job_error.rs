use kiribi::{JobError, job};

#[job]
async fn charge(cents: u64) -> Result<(), JobError> {
    if cents == 0 {
        return Err(JobError::permanent("nothing to charge"));
    }
    Ok(())
}

fn main() {}

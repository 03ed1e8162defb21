use kiribi::{Job, job};

#[job]
async fn count(n: u64) -> anyhow::Result<u64> {
    anyhow::ensure!(n > 0, "n must be positive");
    Ok(n)
}

fn main() {
    let _: <Count as Job>::Output = 1_u64;
}

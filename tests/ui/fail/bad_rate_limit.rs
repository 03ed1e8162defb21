use kiribi::job;

#[job(rate_limit = "10 per second")]
async fn charge(account_id: i64, cents: i64) -> Result<(), String> {
    let _ = (account_id, cents);
    Ok(())
}

fn main() {}

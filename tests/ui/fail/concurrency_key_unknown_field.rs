use kiribi::job;

#[job(concurrency = 1, concurrency_key = acount_id)]
async fn charge(account_id: i64, cents: i64) -> Result<(), String> {
    let _ = (account_id, cents);
    Ok(())
}

fn main() {}

use kiribi::job;

#[job(cron = "0 * * * *")]
async fn hourly_report() -> Result<(), String> {
    Ok(())
}

fn main() {}

use kiribi::job;

#[job(cron = "0 9 * * 1-5", timezone = "Asia/Tokio")]
async fn morning_report() -> Result<(), String> {
    Ok(())
}

fn main() {}

use kiribi::job;

#[job(cron = "0 9 * *")]
async fn morning_report() -> Result<(), String> {
    Ok(())
}

fn main() {}

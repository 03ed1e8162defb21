use kiribi::job;

#[job(cron = "0 3 * * *")]
async fn cleanup(region: String) -> Result<(), String> {
    let _ = region;
    Ok(())
}

fn main() {}

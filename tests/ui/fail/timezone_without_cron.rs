use kiribi::job;

#[job(timezone = "Asia/Tokyo")]
async fn morning_report() -> Result<(), String> {
    Ok(())
}

fn main() {}

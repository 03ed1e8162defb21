use kiribi::{Job, JobContext, job};

#[job(cron = "0 9 * * 1-5", timezone = "Asia/Tokyo")]
async fn daily_report(ctx: JobContext) -> Result<u64, String> {
    let _ = ctx.attempt();
    Ok(0)
}

#[job(cron = "*/2 * * * * *")]
async fn heartbeat() -> Result<(), String> {
    Ok(())
}

#[job(cron = "@hourly", name = "reports.hourly")]
async fn hourly() -> Result<(), String> {
    Ok(())
}

fn main() {
    assert_eq!(DailyReport::CONFIG.cron, Some("0 9 * * 1-5"));
    assert_eq!(DailyReport::CONFIG.timezone, Some("Asia/Tokyo"));
    assert_eq!(<Heartbeat as Job>::CONFIG.cron, Some("*/2 * * * * *"));
    assert_eq!(Heartbeat::CONFIG.timezone, None);
    assert_eq!(Hourly::CONFIG.cron, Some("@hourly"));
}

use kiribi::job;

struct Report;

#[job]
async fn build_report(user_id: i64) -> Result<Report, String> {
    let _ = user_id;
    Ok(Report)
}

fn main() {}

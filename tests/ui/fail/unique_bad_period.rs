use kiribi::job;

#[job(unique(period = "an hour"))]
async fn send_welcome(user_id: i64) -> Result<(), String> {
    let _ = user_id;
    Ok(())
}

fn main() {}

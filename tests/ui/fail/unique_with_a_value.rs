use kiribi::job;

#[job(unique = true)]
async fn send_welcome(user_id: i64) -> Result<(), String> {
    let _ = user_id;
    Ok(())
}

fn main() {}

use kiribi::job;

#[job(unique(fields = [user_id, emial]))]
async fn send_welcome(user_id: i64, email: String) -> Result<(), String> {
    let _ = (user_id, email);
    Ok(())
}

fn main() {}

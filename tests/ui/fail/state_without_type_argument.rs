use kiribi::{State, job};

#[job]
async fn send_welcome(db: State, user_id: i64) -> Result<(), String> {
    let _ = (db, user_id);
    Ok(())
}

fn main() {}

use kiribi::{JobContext, job};

#[job]
async fn send_welcome(ctx: &JobContext, user_id: i64) -> Result<(), String> {
    let _ = (ctx, user_id);
    Ok(())
}

fn main() {}

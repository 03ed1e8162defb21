use std::rc::Rc;

use kiribi::job;

async fn tick() {}

#[job]
async fn send_welcome(user_id: i64) -> Result<(), String> {
    let counter = Rc::new(user_id);
    tick().await;
    let _ = counter;
    Ok(())
}

fn main() {}

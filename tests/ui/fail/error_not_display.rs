use kiribi::job;

#[derive(Debug)]
struct Failed;

#[job]
async fn send_welcome(user_id: i64) -> Result<(), Failed> {
    let _ = user_id;
    Err(Failed)
}

fn main() {}

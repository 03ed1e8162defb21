use kiribi::job;

#[job]
async fn send_welcome(user_id: i64) {
    let _ = user_id;
}

fn main() {}

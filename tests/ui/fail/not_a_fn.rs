use kiribi::job;

#[job]
struct SendWelcome {
    user_id: i64,
}

fn main() {}

use kiribi::job;

#[job]
async fn count_users(limit: u64) -> u64 {
    limit
}

fn main() {}

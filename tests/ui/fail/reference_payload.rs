use kiribi::job;

#[job]
async fn send_welcome(email: &str) -> Result<(), String> {
    let _ = email;
    Ok(())
}

fn main() {}

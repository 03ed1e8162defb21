use kiribi::job;

#[job]
async fn send_welcome(email: impl Into<String>) -> Result<(), String> {
    let _ = email.into();
    Ok(())
}

fn main() {}

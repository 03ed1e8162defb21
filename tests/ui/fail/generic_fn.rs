use kiribi::job;

#[job]
async fn store<T: Clone>(value: T) -> Result<(), String> {
    let _ = value;
    Ok(())
}

fn main() {}

use kiribi::job;

#[job]
async fn resize(path: String, size: Dimensons) -> Result<(), String> {
    let _ = (path, size);
    Ok(())
}

fn main() {}

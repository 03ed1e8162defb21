use kiribi::job;

#[derive(serde::Serialize, serde::Deserialize, Clone)]
struct Dimensions {
    width: u32,
}

#[job]
async fn resize(path: String, size: Dimensions) -> Result<(), String> {
    let _ = (path, size.width);
    Ok(())
}

fn main() {}

use kiribi::job;

#[job]
async fn resize((width, height): (u32, u32)) -> Result<(), String> {
    let _ = (width, height);
    Ok(())
}

fn main() {}

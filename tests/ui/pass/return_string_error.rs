use kiribi::job;

#[job]
async fn greet(name: String) -> Result<String, String> {
    if name.is_empty() {
        return Err("no name".to_owned());
    }
    Ok(format!("hello {name}"))
}

fn main() {}

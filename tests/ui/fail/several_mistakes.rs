use kiribi::job;

// Independent mistakes are all reported at once.
#[job(queue = 1, timeout = "soon")]
fn send_welcome(email: &str, (a, b): (u8, u8)) -> Result<(), String> {
    let _ = (email, a, b);
    Ok(())
}

fn main() {}

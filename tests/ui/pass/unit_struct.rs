use kiribi::{Job, JobContext, job};

#[job(queue = "health")]
async fn ping(_ctx: JobContext) -> Result<(), String> {
    Ok(())
}

fn main() {
    let job: Ping = Ping;
    let _ = format!("{:?}", job.clone());
    assert_eq!(<Ping as Job>::CONFIG.name, "ping");
}

//! The README's testing example, a worker on a second handle of one database, that
//! handle's statistics, and the dashboard nested in the application's own axum
//! router, built as a separate crate that depends on kiribi.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use kiribi::JobContext;

#[kiribi::job]
async fn sign_up(ctx: JobContext, user_id: i64) -> anyhow::Result<()> {
    Welcome::enqueue(ctx.kiribi(), Welcome { user_id }).await?;
    Ok(())
}

#[kiribi::job]
async fn welcome(user_id: i64) -> anyhow::Result<()> {
    let _ = user_id;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let k = kiribi::testing::kiribi().await?;
    SignUp::enqueue(&k, SignUp { user_id: 7 }).await?;
    let drained = kiribi::testing::drain(&k).await?;
    assert_eq!(drained.names(), ["sign_up", "welcome"]);
    kiribi::testing::assert_enqueued::<Welcome>(&k, |w| w.user_id == 7).await;

    // Two handles on one file: jobs enqueued through one are run by a worker of
    // the other.
    let dir = std::env::temp_dir().join(format!("kiribi-outside-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let url = format!("sqlite://{}", dir.join("jobs.db").display());
    let first = kiribi::Kiribi::connect(&url).await?;
    let second = kiribi::Kiribi::connect(&url).await?;
    let id = SignUp::enqueue(&first, SignUp { user_id: 8 }).await?;
    let worker = second.worker().start();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let job = first.job(id).await?.expect("the job exists");
        if job.status == kiribi::JobStatus::Succeeded {
            break;
        }
        assert!(Instant::now() < deadline, "job {id} not run within 30 s: {job:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    worker.shutdown().await?;
    // The second handle's statistics count what its worker ran for the first.
    let stats = second.stats(Duration::from_secs(3600)).await?;
    let ran: u64 = stats.jobs.iter().map(|job| job.succeeded).sum();
    assert_eq!(ran, 2, "sign_up and its welcome: {stats:?}");

    // The dashboard, nested under a path of the application's own axum router and
    // served by it: its jobs page lists what the worker ran.
    let app = axum::Router::new().nest("/admin/jobs", kiribi::dashboard::router(second.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let request =
        format!("GET /admin/jobs/jobs HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("sign_up"), "the jobs page lists sign_up: {response}");
    server.abort();

    std::fs::remove_dir_all(&dir)?;
    println!("outside crate: testing helpers, two handles, their statistics and the dashboard work");
    Ok(())
}

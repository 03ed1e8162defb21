//! Enqueues one unique job from many tasks at once, for the process-level tests of
//! unique jobs.
//!
//! `kiribi-test-enqueuer <url> <tasks> <user-id> <go-file>` connects, prints `ready`,
//! waits until `<go-file>` exists (so that several processes start together), then
//! enqueues `test.sync_user { user_id, full: true }` from `<tasks>` tasks at once
//! and prints one line per task: `<job id> inserted` or `<job id> duplicate`.

use std::path::PathBuf;
use std::time::Duration;

use kiribi::EnqueueOptions;
use kiribi_tests::jobs::SyncUser;

const USAGE: &str = "usage: kiribi-test-enqueuer <url> <tasks> <user-id> <go-file>";

#[tokio::main]
async fn main() -> Result<(), kiribi::Error> {
    kiribi_tests::log::init();
    let mut args = std::env::args().skip(1);
    let url = args.next().expect(USAGE);
    let tasks: usize = args.next().expect(USAGE).parse().expect(USAGE);
    let user_id: i64 = args.next().expect(USAGE).parse().expect(USAGE);
    let go = PathBuf::from(args.next().expect(USAGE));

    let kiribi = kiribi::Kiribi::connect(&url).await?;
    println!("ready");
    while !go.exists() {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let calls: Vec<_> = (0..tasks)
        .map(|_| {
            let kiribi = kiribi.clone();
            tokio::spawn(async move {
                let job = SyncUser {
                    user_id,
                    full: true,
                };
                SyncUser::insert(&kiribi, job, EnqueueOptions::new()).await
            })
        })
        .collect();
    for call in calls {
        let enqueued = call.await.expect("the task ran")?;
        let what = if enqueued.duplicate {
            "duplicate"
        } else {
            "inserted"
        };
        println!("{} {what}", enqueued.id);
    }
    Ok(())
}

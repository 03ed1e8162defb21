use kiribi::{EnqueueOptions, JobContext, JobId, Kiribi, job};

#[job]
pub async fn send_welcome(user_id: i64) -> Result<u32, String> {
    Ok(u32::try_from(user_id).unwrap_or(0))
}

#[job]
async fn sign_up(ctx: JobContext, user_id: i64) -> Result<(), kiribi::Error> {
    // Follow-up jobs through the context.
    SendWelcome::enqueue(&ctx, SendWelcome { user_id }).await?;
    Ok(())
}

async fn usage(kiribi: &Kiribi) -> Result<(), kiribi::Error> {
    let _: JobId = SendWelcome::enqueue(kiribi, SendWelcome { user_id: 1 }).await?;
    let _: JobId =
        SendWelcome::enqueue_with(kiribi, SendWelcome { user_id: 2 }, EnqueueOptions::new())
            .await?;
    let _: Vec<JobId> =
        SendWelcome::enqueue_many(kiribi, (3..5).map(|user_id| SendWelcome { user_id })).await?;
    let _: u32 = SendWelcome::run_now(kiribi, SendWelcome { user_id: 5 }).await?;
    SignUp::run_now(kiribi, SignUp { user_id: 6 }).await?;
    Ok(())
}

fn assert_send<T: Send>(_: T) {}

fn main() {
    // The generated futures are `Send`, so they can be spawned.
    let _ = |kiribi: &'static Kiribi| assert_send(usage(kiribi));
}

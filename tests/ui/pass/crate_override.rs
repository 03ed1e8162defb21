//! Code that reaches kiribi through a facade says where with `crate = "…"`: every
//! generated path goes through the facade.

mod facade {
    pub use ::kiribi as jobs;
}

use facade::jobs::{Job, JobContext};

#[facade::jobs::job(crate = "crate::facade::jobs", queue = "mail", retry_delay = "2s")]
async fn send_welcome(ctx: JobContext, user_id: i64) -> Result<u64, String> {
    let _ = ctx.attempt();
    u64::try_from(user_id).map_err(|err| err.to_string())
}

fn main() {
    assert_eq!(SendWelcome::CONFIG.name, "send_welcome");
    assert_eq!(SendWelcome::CONFIG.queue, "mail");
    let _ = SendWelcome { user_id: 7 };
}

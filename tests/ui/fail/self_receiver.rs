use kiribi::job;

struct Mailer;

impl Mailer {
    #[job]
    async fn send_welcome(&self, user_id: i64) -> Result<(), String> {
        let _ = user_id;
        Ok(())
    }
}

fn main() {}

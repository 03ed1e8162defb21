use kiribi::{JobContext, State, job};

#[derive(Clone)]
struct Db;

#[derive(Clone)]
struct Mailer(String);

// Injected parameters in any position, with patterns and full paths; two
// `JobContext`s are allowed (each gets a clone).
#[job]
async fn mixed(
    State(_db): State<Db>,
    user_id: i64,
    ctx: kiribi::JobContext,
    mailer: kiribi::State<Mailer>,
    mut email: String,
    again: JobContext,
) -> Result<String, String> {
    email.push('!');
    let _ = (ctx.attempt(), again.id());
    Ok(format!("{} {user_id} {email}", (mailer.0).0))
}

fn main() {
    let job = Mixed {
        user_id: 7,
        email: "a@b.c".into(),
    };
    let Mixed { user_id, email } = job.clone();
    assert_eq!((user_id, email.as_str()), (7, "a@b.c"));
}

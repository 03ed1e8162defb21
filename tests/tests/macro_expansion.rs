//! What `#[job]` generates, checked without a database: the payload struct, the
//! declared configuration, the registration and the generated methods' types.

use std::time::Duration;

use kiribi::{Backoff, Job, JobConfig, JobContext, JobId, Kiribi, State, job};

#[derive(Clone)]
struct Db;

#[job(
    queue = "media",
    max_attempts = 3,
    backoff = "fixed",
    retry_delay = "1500ms",
    timeout = "2m",
    priority = -5,
    name = "media.resize"
)]
async fn resize(
    ctx: JobContext,
    State(_db): State<Db>,
    path: String,
    mut width: u32,
) -> anyhow::Result<u64> {
    width += ctx.attempt();
    Ok(u64::from(width) + path.len() as u64)
}

#[job]
async fn send_welcome(user_id: i64, email: String) -> Result<(), String> {
    let _ = (user_id, email);
    Ok(())
}

#[job]
async fn annotate(id: i64, note: Option<String>) -> Result<(), String> {
    let _ = (id, note);
    Ok(())
}

#[job]
async fn heartbeat(_ctx: JobContext) -> Result<(), kiribi::JobError> {
    Ok(())
}

#[test]
fn payload_struct_has_the_payload_params_as_fields_in_order() {
    let job = Resize {
        path: "a.png".to_owned(),
        width: 640,
    };
    let json = serde_json::to_value(&job).expect("serializable");
    assert_eq!(json, serde_json::json!({ "path": "a.png", "width": 640 }));
    let back: Resize = serde_json::from_value(json).expect("deserializable");
    assert_eq!(
        format!("{back:?}"),
        r#"Resize { path: "a.png", width: 640 }"#
    );
}

#[test]
fn payload_reads_like_the_serde_derive() {
    // An `Option` argument added later is `None` in jobs stored before it existed.
    let old: Annotate = serde_json::from_value(serde_json::json!({ "id": 7 })).expect("decodes");
    assert_eq!((old.id, old.note), (7, None));
    // Unknown fields are ignored; a missing one is named; the type is named.
    let extra: Annotate =
        serde_json::from_value(serde_json::json!({ "id": 1, "note": "n", "gone": true }))
            .expect("decodes");
    assert_eq!(extra.note.as_deref(), Some("n"));
    let missing = serde_json::from_value::<Resize>(serde_json::json!({ "path": "a.png" }))
        .expect_err("`width` is missing");
    assert_eq!(missing.to_string(), "missing field `width`");
    let wrong = serde_json::from_value::<Resize>(serde_json::json!(3)).expect_err("not a map");
    assert_eq!(
        wrong.to_string(),
        "invalid type: integer `3`, expected struct Resize"
    );
    // A sequence of the fields in order, as the derive accepts.
    let seq: Resize = serde_json::from_value(serde_json::json!(["b.png", 2])).expect("decodes");
    assert_eq!((seq.path.as_str(), seq.width), ("b.png", 2));
}

#[test]
fn fn_without_payload_gets_a_unit_struct() {
    let job: Heartbeat = Heartbeat;
    assert_eq!(
        serde_json::to_value(job.clone()).expect("serializable"),
        serde_json::Value::Null
    );
}

#[test]
fn every_key_sets_the_config() {
    let expected = JobConfig::new("media.resize")
        .queue("media")
        .max_attempts(3)
        .backoff(Backoff::Fixed)
        .retry_delay(Duration::from_millis(1500))
        .timeout(Duration::from_secs(120))
        .priority(-5);
    assert_eq!(Resize::CONFIG, expected);
}

#[test]
fn keys_not_given_keep_the_defaults_and_the_name_is_the_fn_name() {
    assert_eq!(SendWelcome::CONFIG, JobConfig::new("send_welcome"));
    assert_eq!(Heartbeat::CONFIG.name, "heartbeat");
}

#[test]
fn output_type_comes_from_the_result_alias() {
    fn output_of<J: Job>() -> &'static str {
        std::any::type_name::<J::Output>()
    }
    assert_eq!(output_of::<Resize>(), "u64");
    assert_eq!(output_of::<SendWelcome>(), "()");
}

#[test]
fn the_original_fn_stays_callable() {
    let future = send_welcome(7, "a@b.c".to_owned());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    assert_eq!(runtime.block_on(future), Ok(()));
}

#[test]
fn generated_methods_have_the_documented_types() {
    // Type-level only: these futures are never polled here.
    fn _check(kiribi: &Kiribi) {
        let _enqueue: kiribi::BoxFuture<'_, kiribi::Result<JobId>> = SendWelcome::enqueue(
            kiribi,
            SendWelcome {
                user_id: 1,
                email: String::new(),
            },
        );
        let _enqueue_many: kiribi::BoxFuture<'_, kiribi::Result<Vec<JobId>>> =
            SendWelcome::enqueue_many(kiribi, Vec::<SendWelcome>::new());
        let _run_now: kiribi::BoxFuture<'_, kiribi::Result<u64>> = Resize::run_now(
            kiribi,
            Resize {
                path: String::new(),
                width: 1,
            },
        );
    }
}

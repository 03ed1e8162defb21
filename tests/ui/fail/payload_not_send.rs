use std::marker::PhantomData;

use kiribi::job;

/// Serde, but not `Send`.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone)]
struct Counter {
    value: u32,
    #[serde(skip)]
    not_send: PhantomData<*const ()>,
}

#[job]
async fn count(label: String, counter: Counter) -> Result<(), String> {
    let _ = (label, counter.value);
    Ok(())
}

fn main() {}

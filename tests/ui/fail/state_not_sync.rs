use std::cell::Cell;

use kiribi::{State, job};

#[derive(Clone)]
struct Counter(Cell<u32>);

#[job]
async fn count(State(counter): State<Counter>) -> Result<u32, String> {
    Ok(counter.0.get())
}

fn main() {}

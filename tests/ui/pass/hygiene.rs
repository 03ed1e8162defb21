// The expansion must not depend on anything the user can shadow.
#![allow(dead_code, non_camel_case_types, non_snake_case)]

use kiribi::{JobContext, State, job};

struct Result;
struct Option;
struct Box;
struct Vec;
struct String;
struct Duration;
trait Send {}
trait Sync {}
trait Clone {}
trait Debug {}
fn Ok() {}
fn Err() {}
mod serde {}
mod inventory {}

#[derive(::core::clone::Clone)]
struct Db;

#[job(retry_delay = "1s", timeout = "2s")]
async fn shadowed(
    ctx: JobContext,
    State(db): State<Db>,
    name: ::std::string::String,
    tags: ::std::vec::Vec<u8>,
) -> ::core::result::Result<::core::option::Option<u8>, ::std::string::String> {
    let _ = (ctx, db, name, tags);
    ::core::result::Result::Ok(::core::option::Option::None)
}

// Names the generated code uses for its own locals are free for the user.
#[job]
async fn locals(
    __kiribi_ctx: ::std::string::String,
    __kiribi_arg0: u8,
    target: u8,
    job: u8,
    kiribi: u8,
) -> ::core::result::Result<(), ::std::string::String> {
    let _ = (__kiribi_ctx, __kiribi_arg0, target, job, kiribi);
    ::core::result::Result::Ok(())
}

// Nor are the names of the locals the generated code keeps at the return type.
#[job]
async fn kiribi_result(
    kiribi_error: u8,
    kiribi: u8,
) -> ::core::result::Result<u8, ::std::string::String> {
    ::core::result::Result::Ok(kiribi_error + kiribi)
}

fn main() {}

//! Compile-time behaviour of `#[job]`: what must compile (`ui/pass`) and the errors
//! users see for each mistake (`ui/fail`, one mistake per file).
//!
//! Regenerate the snapshots with
//! `TRYBUILD=overwrite cargo test -p kiribi-tests --test macro_ui`, then read them.

#[test]
fn job_attribute_ui() {
    let t = trybuild::TestCases::new();
    t.pass("ui/pass/*.rs");
    t.compile_fail("ui/fail/*.rs");
}

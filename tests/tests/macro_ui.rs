//! Compile-time behaviour of `#[job]`: what must compile (`ui/pass`) and the errors
//! users see for each mistake (`ui/fail`, one mistake per file).
//!
//! Regenerate the snapshots with
//! `TRYBUILD=overwrite cargo test -p kiribi-tests --test macro_ui`, then read them.
//!
//! trybuild compiles the cases with this crate's edition (2024); the package in
//! `edition2021/` compiles and runs every `ui/pass` case again as edition 2021.

use std::path::Path;

#[test]
fn job_attribute_ui() {
    let t = trybuild::TestCases::new();
    t.pass("ui/pass/*.rs");
    t.compile_fail("ui/fail/*.rs");
}

#[test]
fn every_pass_case_is_also_compiled_as_edition_2021() {
    let manifest = std::fs::read_to_string("edition2021/Cargo.toml").expect("the manifest");
    assert!(manifest.contains("\nedition = \"2021\"\n"), "{manifest}");
    let mut missing = Vec::new();
    for entry in std::fs::read_dir("ui/pass").expect("ui/pass") {
        let path = entry.expect("an entry").path();
        let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
            continue;
        };
        if Path::new(name).extension().is_some_and(|ext| ext == "rs")
            && !manifest.contains(&format!("path = \"../ui/pass/{name}\""))
        {
            missing.push(name.to_owned());
        }
    }
    assert!(
        missing.is_empty(),
        "add a `[[test]]` with `harness = false` to tests/edition2021/Cargo.toml for {missing:?}"
    );
}

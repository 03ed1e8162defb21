//! `kiribi-bench all --quick` completes every workload for the kiribi and raw contenders.
//! No timing is asserted: this only checks that the benchmark runs.

use std::process::Command;

const CONTENDERS: &[&str] = &[
    "kiribi-sqlite",
    "raw-sqlite",
    "kiribi-postgres",
    "raw-postgres",
];

#[test]
fn quick_run_prints_a_row_for_every_contender() {
    let output = Command::new(env!("CARGO_BIN_EXE_kiribi-bench"))
        .args(["all", "--quick", "--contenders", &CONTENDERS.join(",")])
        .output()
        .expect("kiribi-bench starts");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "kiribi-bench failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    for contender in CONTENDERS {
        let row = stdout
            .lines()
            .find(|l| l.starts_with(&format!("| {contender} |")))
            .unwrap_or_else(|| panic!("no row for {contender}:\n{stdout}"));
        assert!(!row.contains("failed"), "{row}");
    }
}

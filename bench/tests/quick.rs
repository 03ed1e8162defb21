//! `kiribi-bench all --quick` completes every workload for the kiribi and raw contenders.
//! No timing is asserted: this only checks that the benchmark runs.

use std::process::Command;

/// Every workload, W7 and the idle worker's CPU included (W7 is n/a for the raw
/// queues). W7 waits for kiribi's poll interval today, up to 1 s per phase and
/// backend: most of the seconds the two cells add.
const CONTENDERS: &[&str] = &[
    "kiribi-sqlite",
    "raw-sqlite",
    "kiribi-postgres",
    "raw-postgres",
];

/// The ceilings differ from the raw queues only in their claims and completions, so
/// the workloads that drain or wait for jobs are enough: a few seconds, where every
/// workload would add half a minute to a debug build's test run.
const LIMITS: &[&str] = &["raw-limit-sqlite", "raw-limit-postgres"];
const LIMIT_WORKLOADS: &str = "w1,w3,w4,w5";

/// Runs `kiribi-bench all --quick` and checks that every contender has a row without
/// a failed cell.
fn quick_run(contenders: &[&str], workloads: Option<&str>) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_kiribi-bench"));
    command.args(["all", "--quick", "--contenders", &contenders.join(",")]);
    if let Some(workloads) = workloads {
        command.args(["--workloads", workloads]);
    }
    let output = command.output().expect("kiribi-bench starts");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "kiribi-bench failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    for contender in contenders {
        let row = stdout
            .lines()
            .find(|l| l.starts_with(&format!("| {contender} |")))
            .unwrap_or_else(|| panic!("no row for {contender}:\n{stdout}"));
        assert!(!row.contains("failed"), "{row}");
    }
}

#[test]
fn quick_run_prints_a_row_for_every_contender() {
    quick_run(CONTENDERS, None);
}

#[test]
fn quick_run_drains_and_waits_with_the_raw_limit_contenders() {
    quick_run(LIMITS, Some(LIMIT_WORKLOADS));
}

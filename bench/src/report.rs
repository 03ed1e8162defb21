//! `all`: every contender × workload, the median of the runs, as a Markdown table.

use std::collections::HashMap;
use std::time::Instant;

use anyhow::Result;

use crate::Config;
use crate::contenders;
use crate::workloads::{self, Measure};

/// Runs the table and prints it.
pub(crate) async fn all(config: &Config) -> Result<()> {
    let names: Vec<&str> = contenders::ALL
        .iter()
        .map(|(n, ..)| *n)
        .filter(|n| match &config.contenders {
            Some(only) => only.iter().any(|o| o == n),
            None => contenders::available(n) && !contenders::OPT_IN.contains(n),
        })
        .collect();
    // A workload is asked for by its name or by one of its columns (`dead`, `w7-retry`).
    let runnable: Vec<(&str, &[&str], bool)> = workloads::RUNNABLE
        .iter()
        .copied()
        .filter(|(w, keys, _)| match &config.workloads {
            Some(only) => only.iter().any(|o| o == w || keys.contains(&o.as_str())),
            None => true,
        })
        .collect();
    let started = Instant::now();
    let mut cells: HashMap<(&str, &str), Vec<Measure>> = HashMap::new();
    let mut failures = Vec::new();
    for name in &names {
        for (workload, _, heavy) in &runnable {
            let runs = if *heavy { 1 } else { config.runs };
            for run in 0..runs {
                eprintln!(
                    "[{:>6.1}s] {name} {workload} run {}/{runs}",
                    started.elapsed().as_secs_f64(),
                    run + 1
                );
                match workloads::run(config, workload, name).await {
                    Ok(measures) => {
                        for (key, m) in measures {
                            cells.entry((*name, key)).or_default().push(m);
                        }
                    }
                    Err(err) => {
                        eprintln!("  failed: {err:#}");
                        failures.push(format!("{name} {workload}: {err:#}"));
                        break;
                    }
                }
            }
        }
    }

    let columns: Vec<(&str, String)> = workloads::ALL
        .iter()
        .filter(|(key, _)| runnable.iter().any(|(_, keys, _)| keys.contains(key)))
        .map(|(key, header)| (*key, header_for(config, key, header)))
        .collect();
    let mut notes: Vec<&str> = Vec::new();
    println!();
    print!("| contender |");
    for (_, header) in &columns {
        print!(" {header} |");
    }
    println!();
    print!("|---|");
    for _ in &columns {
        print!("---:|");
    }
    println!();
    for name in &names {
        print!("| {name} |");
        for (key, _) in &columns {
            let text = match cells.get(&(*name, *key)) {
                Some(measures) => {
                    let m = median(measures);
                    if let Measure::NotApplicable(why) = m {
                        let index = match notes.iter().position(|n| *n == why) {
                            Some(i) => i,
                            None => {
                                notes.push(why);
                                notes.len() - 1
                            }
                        };
                        format!("n/a [{}]", index + 1)
                    } else {
                        format(&m)
                    }
                }
                None => "failed".to_owned(),
            };
            print!(" {text} |");
        }
        println!();
    }
    println!();
    for (i, note) in notes.iter().enumerate() {
        println!("[{}] {note}", i + 1);
    }
    println!(
        "\n{} jobs per run, median of {} run(s) (w6-large, rss and idle-cpu once), concurrency 8, \
         {:.0} s in all.",
        config.jobs,
        config.runs,
        started.elapsed().as_secs_f64()
    );
    for failure in &failures {
        println!("failed: {failure}");
    }
    anyhow::ensure!(failures.is_empty(), "{} cell(s) failed", failures.len());
    Ok(())
}

fn header_for(config: &Config, key: &str, header: &str) -> String {
    let thousands = |n: u64| {
        if n >= 1_000_000 {
            format!("{}M", n / 1_000_000)
        } else {
            format!("{}k", n / 1000)
        }
    };
    match key {
        "w6-small" => format!(
            "W6 drain with {} finished (jobs/s)",
            thousands(config.finished_small())
        ),
        "w6-large" => format!(
            "W6 drain with {} finished (jobs/s)",
            thousands(config.finished_large())
        ),
        "rss" => format!(
            "worker peak RSS, {} pending (MiB)",
            thousands(config.rss_pending())
        ),
        _ => header.to_owned(),
    }
}

/// The median of each figure across runs (for latency, of p50 and of p99 separately).
fn median(measures: &[Measure]) -> Measure {
    fn mid(mut v: Vec<f64>) -> f64 {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }
    match &measures[0] {
        Measure::Rate(_) => Measure::Rate(mid(measures
            .iter()
            .filter_map(|m| match m {
                Measure::Rate(r) => Some(*r),
                _ => None,
            })
            .collect())),
        Measure::Latency { .. } => {
            let (p50, tail) = measures
                .iter()
                .filter_map(|m| match m {
                    Measure::Latency { p50_ms, tail_ms } => Some((*p50_ms, *tail_ms)),
                    _ => None,
                })
                .unzip();
            Measure::Latency {
                p50_ms: mid(p50),
                tail_ms: mid(tail),
            }
        }
        Measure::Count(_) => {
            let mut v: Vec<u64> = measures
                .iter()
                .filter_map(|m| match m {
                    Measure::Count(c) => Some(*c),
                    _ => None,
                })
                .collect();
            v.sort_unstable();
            Measure::Count(v[v.len() / 2])
        }
        Measure::Mib(_) => Measure::Mib(mid(measures
            .iter()
            .filter_map(|m| match m {
                Measure::Mib(r) => Some(*r),
                _ => None,
            })
            .collect())),
        Measure::Percent(_) => Measure::Percent(mid(measures
            .iter()
            .filter_map(|m| match m {
                Measure::Percent(p) => Some(*p),
                _ => None,
            })
            .collect())),
        Measure::NotApplicable(why) => Measure::NotApplicable(why),
    }
}

/// A figure as printed in the table.
pub(crate) fn format(measure: &Measure) -> String {
    match measure {
        Measure::Rate(r) => group(r.round()),
        Measure::Latency { p50_ms, tail_ms } => format!("{p50_ms:.2} / {tail_ms:.2}"),
        Measure::Count(c) => group(*c as f64),
        Measure::Mib(m) => format!("{m:.1}"),
        Measure::Percent(p) => format!("{p:.2}"),
        Measure::NotApplicable(why) => format!("n/a ({why})"),
    }
}

/// `12345.0` → `12,345`.
fn group(x: f64) -> String {
    let digits = format!("{x:.0}");
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

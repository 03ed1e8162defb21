//! How results reach the terminal: aligned tables and short values for people,
//! one JSON document for scripts.

use std::io::Write;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use comfy_table::{CellAlignment, Table, presets};
use serde::Serialize;

use crate::error::CliResult;

/// Writes `value` as one pretty-printed JSON document on standard output.
pub(crate) fn json(value: &impl Serialize) -> CliResult {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    Ok(())
}

/// A table without borders, its header in capitals, columns separated by spaces;
/// the columns named in `right` (numbers) aligned right.
pub(crate) fn table(header: &[&str], right: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(presets::NOTHING)
        .set_header(header.iter().map(|h| h.to_uppercase()));
    for (index, name) in header.iter().enumerate() {
        if let Some(column) = table.column_mut(index) {
            // Two spaces between columns and none before the first, as `ls -l`.
            column.set_padding((0, 2));
            if right.contains(name) {
                column.set_cell_alignment(CellAlignment::Right);
            }
        }
    }
    table
}

/// A table's text without the spaces that pad its last column.
pub(crate) fn render(table: &Table) -> String {
    let text = table.to_string();
    let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
    lines.join("\n")
}

/// Prints a table, or `empty` when it has no rows.
pub(crate) fn print_table(table: &Table, empty: &str) {
    if table.row_count() == 0 {
        println!("{empty}");
    } else {
        println!("{}", render(table));
    }
}

/// A time as RFC 3339 in UTC, to the second.
pub(crate) fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// An optional time, `-` for none.
pub(crate) fn maybe_time(at: Option<DateTime<Utc>>) -> String {
    at.map_or_else(|| "-".to_owned(), time)
}

/// A duration with two or three significant digits: `850µs`, `12.3ms`, `1.52s`,
/// `3m 20s`, `2h 5m`, `3d 4h`.
pub(crate) fn duration(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        0 => {
            let micros = d.as_secs_f64() * 1e6;
            if micros < 1000.0 {
                format!("{micros:.0}µs")
            } else {
                format!("{:.1}ms", micros / 1000.0)
            }
        }
        1..60 => format!("{:.2}s", d.as_secs_f64()),
        60..3600 => format!("{}m {}s", secs / 60, secs % 60),
        3600..86_400 => format!("{}h {}m", secs / 3600, secs % 3600 / 60),
        _ => format!("{}d {}h", secs / 86_400, secs % 86_400 / 3600),
    }
}

/// An optional duration, `-` for none.
pub(crate) fn maybe_duration(d: Option<Duration>) -> String {
    d.map_or_else(|| "-".to_owned(), duration)
}

/// The time between two instants, if both are known and in order.
pub(crate) fn between(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Option<Duration> {
    (to? - from?).to_std().ok()
}

/// `text` on one line, cut to at most `max` characters with an ellipsis.
pub(crate) fn one_line(text: &str, max: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max {
        return flat;
    }
    let mut cut: String = flat.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_short_and_keep_their_unit() {
        assert_eq!(duration(Duration::from_micros(850)), "850µs");
        assert_eq!(duration(Duration::from_micros(12_340)), "12.3ms");
        assert_eq!(duration(Duration::from_millis(1_520)), "1.52s");
        assert_eq!(duration(Duration::from_secs(200)), "3m 20s");
        assert_eq!(duration(Duration::from_secs(7_500)), "2h 5m");
        assert_eq!(
            duration(Duration::from_secs(3 * 86_400 + 4 * 3600)),
            "3d 4h"
        );
    }

    #[test]
    fn long_text_is_cut_on_one_line() {
        assert_eq!(one_line("a\n  b", 10), "a b");
        assert_eq!(one_line("abcdefghij", 5), "abcd…");
    }

    #[test]
    fn numeric_columns_align_right() {
        let mut table = table(&["name", "count"], &["count"]);
        table.add_row(vec!["a", "1"]).add_row(vec!["bbb", "100"]);
        let text = table.to_string();
        let lines: Vec<&str> = text.lines().map(str::trim_end).collect();
        assert!(
            lines[0].contains("NAME") && lines[0].contains("COUNT"),
            "{text}"
        );
        assert!(
            lines[1].ends_with("  1") && lines[2].ends_with("100"),
            "{text}"
        );
    }
}

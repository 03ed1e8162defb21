//! The table of `#[job(…)]` keys: what parsing dispatches on, what the unknown-key
//! message lists and what the docs tables show (a test below keeps them in step).

use super::attr::{self, Args, Entry, MetaEntry, Zero};

/// One key of `#[job(…)]`.
pub(crate) struct Key {
    /// The key as written in the attribute.
    pub(crate) name: &'static str,
    /// A valid value, shown in error messages and in the docs.
    pub(crate) example: &'static str,
    /// What the value may be (markdown, for the docs).
    #[cfg_attr(not(test), allow(dead_code, reason = "only the docs tables show it"))]
    pub(crate) value: &'static str,
    /// The value when the key is not given (markdown, for the docs).
    #[cfg_attr(not(test), allow(dead_code, reason = "only the docs tables show it"))]
    pub(crate) default: &'static str,
    /// The hand-written code that `example` amounts to (markdown, for the docs).
    #[cfg_attr(not(test), allow(dead_code, reason = "only the docs tables show it"))]
    pub(crate) equivalent: &'static str,
    /// How to read the value.
    pub(crate) parser: Parser,
}

/// What `#[job]` does with a key.
#[derive(Clone, Copy)]
pub(crate) enum Parser {
    /// Reads `key = value` into [`Args`], through its set-once field.
    Value(fn(&mut Args, &Entry<'_>) -> syn::Result<()>),
    /// Reads the key in whichever form it takes (`key`, `key(…)` or `key = value`)
    /// into [`Args`], through its set-once field.
    Meta(fn(&mut Args, &MetaEntry<'_>) -> syn::Result<()>),
}

/// Every key, in the order of the docs tables.
pub(crate) const KEYS: &[Key] = &[
    Key {
        name: "name",
        example: "\"media.resize\"",
        value: "non-empty string, stored in the database: keep it stable across renames",
        default: "the fn's name",
        equivalent: "`JobConfig::new(\"media.resize\")`",
        parser: Parser::Value(|args, entry| args.name.set(entry, attr::non_empty_string)),
    },
    Key {
        name: "queue",
        example: "\"media\"",
        value: "non-empty string",
        default: "`\"default\"`",
        equivalent: "`.queue(\"media\")`",
        parser: Parser::Value(|args, entry| args.queue.set(entry, attr::non_empty_string)),
    },
    Key {
        name: "max_attempts",
        example: "5",
        value: "integer ≥ 1, total attempts including the first",
        default: "`5`",
        equivalent: "`.max_attempts(5)`",
        parser: Parser::Value(|args, entry| args.max_attempts.set(entry, attr::max_attempts)),
    },
    Key {
        name: "backoff",
        example: "\"exponential\"",
        value: "`\"exponential\"` (with jitter and a cap), `\"fixed\"` or `\"linear\"`",
        default: "`\"exponential\"`",
        equivalent: "`.backoff(Backoff::Exponential)`",
        parser: Parser::Value(|args, entry| args.backoff.set(entry, attr::backoff)),
    },
    Key {
        name: "retry_delay",
        example: "\"2s\"",
        value: "[humantime](https://docs.rs/humantime) duration: `\"250ms\"`, `\"2s\"`, \
                `\"5m\"`, `\"1h 30m\"`",
        default: "`\"1s\"`",
        equivalent: "`.retry_delay(Duration::from_secs(2))`",
        parser: Parser::Value(|args, entry| {
            args.retry_delay
                .set(entry, |entry| attr::duration(entry, Zero::Allowed))
        }),
    },
    Key {
        name: "timeout",
        example: "\"30s\"",
        value: "humantime duration, longer than zero",
        default: "none",
        equivalent: "`.timeout(Duration::from_secs(30))`",
        parser: Parser::Value(|args, entry| {
            args.timeout
                .set(entry, |entry| attr::duration(entry, Zero::Rejected))
        }),
    },
    Key {
        name: "priority",
        example: "10",
        value: "`i32` literal, may be negative; higher runs first",
        default: "`0`",
        equivalent: "`.priority(10)`",
        parser: Parser::Value(|args, entry| args.priority.set(entry, attr::priority)),
    },
    Key {
        name: "crate",
        example: "\"my_facade::kiribi\"",
        value: "path of the kiribi crate, for a renamed or re-exported kiribi",
        default: "`\"::kiribi\"`",
        equivalent: "the generated code names `my_facade::kiribi::Job` … instead of \
                     `::kiribi::Job` …",
        parser: Parser::Value(|args, entry| args.crate_path.set(entry, attr::crate_path)),
    },
    Key {
        name: "cron",
        example: "\"0 9 * * 1-5\"",
        value: "cron expression: 5 fields (minute first), 6 fields (seconds first), or \
                `@hourly`, `@daily`, `@weekly`, `@monthly`, `@yearly`; only on a job \
                without payload parameters",
        default: "none",
        equivalent: "`.cron(\"0 9 * * 1-5\")`: every worker declares the schedule, named \
                     after the job",
        parser: Parser::Value(|args, entry| args.cron.set(entry, attr::cron)),
    },
    Key {
        name: "timezone",
        example: "\"Asia/Tokyo\"",
        value: "IANA time zone of `cron`; ticks follow its daylight-saving changes",
        default: "`\"UTC\"`",
        equivalent: "`.timezone(\"Asia/Tokyo\")`",
        parser: Parser::Value(|args, entry| args.timezone.set(entry, attr::timezone)),
    },
    Key {
        name: "unique",
        example: "unique(fields = [user_id], period = \"1h\")",
        value: "`unique` (a key made of the whole payload) or `unique(fields = [a, b], \
                period = \"1h\")`: the key is made of those payload fields; with a \
                period it is held for that window (aligned to the Unix epoch) whatever \
                becomes of the job, else while the job is unfinished",
        default: "not unique",
        equivalent: "`.unique(Unique::fields(&[\"user_id\"]).period(Duration::from_secs(3600)))`",
        parser: Parser::Meta(|args, entry| args.unique.set_meta(entry, attr::unique)),
    },
    Key {
        name: "concurrency",
        example: "2",
        value: "integer ≥ 1: at most this many attempts run at once, across every worker \
                (per `concurrency_key` value, when set)",
        default: "no limit",
        equivalent: "`.concurrency(2)`",
        parser: Parser::Value(|args, entry| args.concurrency.set(entry, attr::concurrency)),
    },
    Key {
        name: "concurrency_key",
        example: "account_id",
        value: "a payload field: `concurrency` and `rate_limit` hold per distinct value \
                of it",
        default: "one group for the job",
        equivalent: "`.concurrency_key(\"account_id\")`",
        parser: Parser::Value(|args, entry| args.concurrency_key.set(entry, attr::field_name)),
    },
    Key {
        name: "rate_limit",
        example: "\"10/1s\"",
        value: "`\"N/duration\"`: at most N attempts start in any window of that \
                humantime duration, across every worker (per `concurrency_key` value, \
                when set)",
        default: "no limit",
        equivalent: "`.rate_limit(RateLimit::new(10, Duration::from_secs(1)))`",
        parser: Parser::Value(|args, entry| args.rate_limit.set(entry, attr::rate_limit)),
    },
];

/// The key named `name`, if there is one.
pub(crate) fn find(name: &str) -> Option<&'static Key> {
    KEYS.iter().find(|key| key.name == name)
}

/// The keys, as listed in the unknown-key message.
pub(crate) fn supported() -> impl Iterator<Item = &'static Key> {
    KEYS.iter()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rows of the markdown table under `header` in the doc comments of `source`.
    fn doc_table(source: &str, header: &str) -> Vec<String> {
        let lines: Vec<&str> = source
            .lines()
            .map(|line| line.trim_start().trim_start_matches("///").trim())
            .collect();
        let starts: Vec<usize> = (0..lines.len()).filter(|&i| lines[i] == header).collect();
        assert_eq!(starts.len(), 1, "expected one table headed {header:?}");
        lines[starts[0] + 2..]
            .iter()
            .take_while(|line| line.starts_with('|'))
            .map(|line| (*line).to_owned())
            .collect()
    }

    /// A key as the facade's table shows it: `queue = "media"`, or the whole example.
    fn usage(key: &Key) -> String {
        match key.parser {
            Parser::Value(_) => format!("`{} = {}`", key.name, key.example),
            Parser::Meta(_) => format!("`{}`", key.example),
        }
    }

    #[test]
    fn the_macro_docs_have_one_row_per_key_in_table_order() {
        let expected: Vec<String> = KEYS
            .iter()
            .map(|key| {
                format!(
                    "| `{}` | {} | {} | {} |",
                    key.name, key.value, key.default, key.equivalent
                )
            })
            .collect();
        let actual = doc_table(
            include_str!("../lib.rs"),
            "| key | value | default | equivalent hand-written code |",
        );
        assert!(
            actual == expected,
            "the table in kiribi-macros/src/lib.rs must list the keys of `KEYS`, in order:\n{}",
            expected.join("\n")
        );
    }

    #[test]
    fn the_facade_docs_have_one_row_per_key_in_table_order() {
        let expected: Vec<String> = KEYS
            .iter()
            .map(|key| format!("| {} | {} | {} |", usage(key), key.default, key.equivalent))
            .collect();
        let actual = doc_table(
            include_str!("../../../kiribi/src/lib.rs"),
            "| key | default | equivalent |",
        );
        assert!(
            actual == expected,
            "the table in the docs of `kiribi::job` must list the keys of `KEYS`, in order:\n{}",
            expected.join("\n")
        );
    }

    #[test]
    fn names_are_unique_and_values_have_examples() {
        for (i, key) in KEYS.iter().enumerate() {
            assert!(
                KEYS[..i].iter().all(|other| other.name != key.name),
                "`{}` is in the table twice",
                key.name
            );
            assert!(!key.example.is_empty(), "`{}`", key.name);
        }
    }
}

//! Lease owners: a unique id for every worker and every inline run.
//!
//! `worker:<host>:<pid>:<random>` and `inline:<host>:<pid>:<random>`. The host and
//! the pid are there for people reading `lease_owner` (which machine, which
//! process); uniqueness comes from 64 random bits drawn from the operating system's
//! entropy (std's `RandomState` keys), so two processes never share an id, not even
//! two containers that are both pid 1 on hosts of the same name.

use std::hash::{BuildHasher, RandomState};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use kiribi_core::backend::WorkerId;

const WORKER: &str = "worker:";
const INLINE: &str = "inline:";
/// How inline owners began before they were collision-free (older jobs may hold it).
const OLD_INLINE: &str = "inline-";

/// A new worker's id.
pub(crate) fn worker() -> WorkerId {
    new_id(WORKER)
}

/// A new inline (`run_now`) run's id.
pub(crate) fn inline() -> WorkerId {
    new_id(INLINE)
}

/// Whether `owner` is an inline run's id.
pub(crate) fn is_inline(owner: &str) -> bool {
    owner.starts_with(INLINE) || owner.starts_with(OLD_INLINE)
}

fn new_id(kind: &str) -> WorkerId {
    WorkerId::new(format!(
        "{kind}{}:{}:{:016x}",
        host(),
        std::process::id(),
        random()
    ))
}

/// 64 bits from a fresh `RandomState`, whose keys come from the OS; a counter
/// makes successive ids differ even if two states were keyed alike.
fn random() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    RandomState::new().hash_one((COUNTER.fetch_add(1, Ordering::Relaxed), std::process::id()))
}

/// The machine's host name, read once; `host` when none can be read.
fn host() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        let from_file = |path| std::fs::read_to_string(path).ok();
        let name = from_file("/proc/sys/kernel/hostname")
            .or_else(|| from_file("/etc/hostname"))
            .or_else(|| std::env::var("HOSTNAME").ok())
            .or_else(|| std::env::var("COMPUTERNAME").ok())
            .unwrap_or_default();
        // `:` separates the parts of an id.
        let name: String = name.trim().chars().filter(|&c| c != ':').take(64).collect();
        if name.is_empty() {
            "host".to_owned()
        } else {
            name
        }
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn ids_are_unique_and_say_what_they_are() {
        let ids: HashSet<WorkerId> = (0..10_000).map(|_| worker()).collect();
        assert_eq!(ids.len(), 10_000);
        let id = worker();
        assert!(id.as_str().starts_with(WORKER), "{id}");
        assert!(
            id.as_str().contains(&format!(":{}:", std::process::id())),
            "{id}"
        );
        assert!(!is_inline(id.as_str()));
        assert!(is_inline(inline().as_str()));
        assert!(is_inline("inline-42-7"), "the format of older kiribi");
    }
}

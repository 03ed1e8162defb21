//! Maps keyed by ids that the worker itself or the database hands out.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` keyed by job or task ids.
pub(crate) type IdMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

/// A `HashSet` of job ids.
pub(crate) type IdSet<K> = HashSet<K, BuildHasherDefault<IdHasher>>;

/// Hashes an integer id with one multiplication (Fibonacci hashing), which spreads
/// consecutive ids over both the low bits a table indexes by and the high bits it
/// compares. The default hasher's defence against chosen keys buys nothing for
/// keys nobody outside chooses, and it cost each job that starts a few hundred
/// instructions in the worker's maps of running jobs.
#[derive(Debug, Default)]
pub(crate) struct IdHasher(u64);

const FIBONACCI: u64 = 0x9E37_79B9_7F4A_7C15;

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(byte)).wrapping_mul(FIBONACCI);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(FIBONACCI);
    }

    fn write_i64(&mut self, n: i64) {
        self.write_u64(n.cast_unsigned());
    }
}

#[cfg(test)]
mod tests {
    use std::hash::BuildHasher;

    use super::*;

    #[test]
    fn consecutive_ids_spread_over_low_and_high_bits() {
        let build = BuildHasherDefault::<IdHasher>::default();
        let hashes: Vec<u64> = (0..1024_i64).map(|id| build.hash_one(id)).collect();
        let low: HashSet<u64> = hashes.iter().map(|h| h & 1023).collect();
        let high: HashSet<u64> = hashes.iter().map(|h| h >> 57).collect();
        assert_eq!(
            low.len(),
            1024,
            "every bucket of a 1,024-slot table is used once"
        );
        assert_eq!(high.len(), 128, "every 7-bit tag occurs");
    }

    #[test]
    fn maps_keyed_by_ids_work_as_maps() {
        let mut map: IdMap<i64, &str> = IdMap::default();
        map.insert(7, "seven");
        map.insert(-7, "minus seven");
        assert_eq!(map.get(&7), Some(&"seven"));
        assert_eq!(map.remove(&-7), Some("minus seven"));
        assert_eq!(map.len(), 1);
    }
}

//! [`SeriesTable`]: dense indexes for series keys. The hot tier stores a
//! `u32` per row instead of the whole key.
//!
//! Keys of series no hot window uses any more are dropped when the table
//! has grown well past what is live ([`SeriesTable::retain`]): the
//! remaining keys get new, dense indexes, the engine renumbers its hot
//! chunks under the same lock, and the table's epoch moves on, so a write
//! prepared against the old numbering is renumbered when it is applied.
//! A snapshot copies the keys it needs, so readers are never affected.

use crate::locks::{read, write};
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, RwLock};

/// Series key → dense `u32` index.
#[derive(Debug)]
pub struct SeriesTable<K> {
    inner: RwLock<Inner<K>>,
}

#[derive(Debug)]
struct Inner<K> {
    keys: Vec<Arc<K>>,
    index: HashMap<Arc<K>, u32, crate::ids::KeyedHash>,
    epoch: u64,
    /// Live keys after the last [`SeriesTable::retain`].
    live_at_last_retain: usize,
}

impl<K> Default for SeriesTable<K> {
    fn default() -> Self {
        SeriesTable {
            inner: RwLock::new(Inner {
                keys: Vec::new(),
                index: HashMap::default(),
                epoch: 0,
                live_at_last_retain: 0,
            }),
        }
    }
}

/// Below this many keys a table is never renumbered.
const RETAIN_FLOOR: usize = 10_000;

impl<K: Eq + Hash> SeriesTable<K> {
    /// The index of `key` and the shared key, adding it when new.
    pub fn intern(&self, key: &K) -> (u32, Arc<K>)
    where
        K: Clone,
    {
        {
            let g = read(&self.inner);
            if let Some((k, i)) = g.index.get_key_value(key) {
                return (*i, k.clone());
            }
        }
        let mut g = write(&self.inner);
        if let Some((k, i)) = g.index.get_key_value(key) {
            return (*i, k.clone());
        }
        let i = g.keys.len() as u32;
        let k = Arc::new(key.clone());
        g.keys.push(k.clone());
        g.index.insert(k.clone(), i);
        (i, k)
    }

    /// Changes whenever indexes are renumbered.
    pub fn epoch(&self) -> u64 {
        read(&self.inner).epoch
    }

    /// Every key so far, by index.
    pub fn snapshot(&self) -> Vec<Arc<K>> {
        read(&self.inner).keys.clone()
    }

    pub fn len(&self) -> usize {
        read(&self.inner).keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the table has grown enough past its live keys to be worth
    /// renumbering (twice the last live count, and at least 10,000).
    pub fn wants_retain(&self) -> bool {
        let g = read(&self.inner);
        g.keys.len() > RETAIN_FLOOR.max(2 * g.live_at_last_retain)
    }

    /// Keeps only the keys whose index is marked in `live`, renumbered
    /// densely in their old order. Returns the renumbering (old index →
    /// new, `u32::MAX` for a dropped key); the caller renumbers its rows
    /// under the lock that orders them with writes.
    pub fn retain(&self, live: &[bool]) -> Vec<u32> {
        let mut g = write(&self.inner);
        let mut map = vec![u32::MAX; g.keys.len()];
        let mut keys = Vec::new();
        for (old, k) in g.keys.iter().enumerate() {
            if live.get(old).copied().unwrap_or(false) {
                map[old] = keys.len() as u32;
                keys.push(k.clone());
            }
        }
        g.index = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.clone(), i as u32))
            .collect();
        g.live_at_last_retain = keys.len();
        g.keys = keys;
        g.epoch += 1;
        map
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retain_renumbers_live_keys_and_moves_the_epoch() {
        let t: SeriesTable<String> = SeriesTable::default();
        for i in 0..5 {
            assert_eq!(t.intern(&format!("k{i}")).0, i);
        }
        let map = t.retain(&[false, true, false, true, false]);
        assert_eq!(map, vec![u32::MAX, 0, u32::MAX, 1, u32::MAX]);
        assert_eq!(t.epoch(), 1);
        assert_eq!(t.intern(&"k3".to_string()).0, 1);
        assert_eq!(t.intern(&"k9".to_string()).0, 2);
        let keys: Vec<String> = t.snapshot().iter().map(|k| k.to_string()).collect();
        assert_eq!(keys, ["k1", "k3", "k9"]);
    }
}

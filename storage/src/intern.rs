//! [`StackTable`], shared by the hot tier and the query layer: stack id →
//! frames, which stacks are already in the cold tier, and (bounded) which
//! cold stacks' frames are kept in memory.

use crate::ids::{KeyedHash, StackId};
use crate::locks::{read, write};
use crate::model::Frames;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

#[derive(Debug)]
struct StackEntry {
    frames: Frames,
    /// True once a stacks file holding this stack is listed in the manifest.
    persisted: bool,
    /// When it was last used (ticks of [`StackTable::tick`]).
    used: AtomicU64,
}

#[derive(Debug, Default)]
struct StackTableInner {
    stacks: HashMap<StackId, StackEntry, KeyedHash>,
    names: HashSet<Arc<str>>,
    /// Stacks whose frames are only in the cold tier now: a keyed
    /// fingerprint of their frames, to tell a collision from a return.
    evicted: HashMap<StackId, u64, KeyedHash>,
    /// Estimated bytes held by `stacks` and `names`.
    bytes: usize,
}

/// Stacks storage knows, deduplicated by [`StackId`]: the frames of every
/// stack hot data uses, and of as many cold stacks as fit the cache.
///
/// Function names are interned, so a name shared by many stacks is stored
/// once. Stacks in the cold tier that no hot window uses are evicted when
/// the table grows past its budget ([`StackTable::evict`]); a keyed
/// fingerprint of their frames stays, so collisions are still caught, and
/// their frames are read back from the stacks files when a query asks.
#[derive(Debug)]
pub struct StackTable {
    inner: RwLock<StackTableInner>,
    fingerprints: foldhash::fast::RandomState,
    clock: AtomicU64,
}

impl Default for StackTable {
    fn default() -> Self {
        StackTable {
            inner: RwLock::default(),
            fingerprints: foldhash::fast::RandomState::default(),
            clock: AtomicU64::new(0),
        }
    }
}

/// Bytes an entry costs beside its frames: map slot, `Arc` header, clock.
const ENTRY_BYTES: usize = 80;

fn entry_bytes(frames: usize) -> usize {
    ENTRY_BYTES + frames * std::mem::size_of::<Arc<str>>()
}

impl StackTable {
    fn tick(&self) -> u64 {
        self.clock.load(Ordering::Relaxed)
    }

    /// Moves the use clock on (once per compaction).
    pub fn advance_clock(&self) {
        self.clock.fetch_add(1, Ordering::Relaxed);
    }

    /// A fingerprint of frames no client can predict (keyed per process).
    fn fingerprint<S: AsRef<str>>(&self, frames: &[S]) -> u64 {
        use std::hash::{BuildHasher, Hasher};
        let mut h = self.fingerprints.build_hasher();
        for f in frames {
            h.write(f.as_ref().as_bytes());
            h.write_u8(0);
        }
        h.finish()
    }

    pub fn get(&self, id: StackId) -> Option<Frames> {
        let g = read(&self.inner);
        g.stacks.get(&id).map(|e| {
            e.used.store(self.tick(), Ordering::Relaxed);
            e.frames.clone()
        })
    }

    /// Stacks whose frames are in memory.
    pub fn len(&self) -> usize {
        read(&self.inner).stacks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stacks known only by fingerprint (frames in the cold tier).
    pub fn evicted_len(&self) -> usize {
        read(&self.inner).evicted.len()
    }

    /// Estimated bytes of the frames in memory.
    pub fn bytes(&self) -> usize {
        read(&self.inner).bytes
    }

    /// How `frames` stand against the stack stored under `id`.
    pub fn compare(&self, id: StackId, frames: &[&str]) -> Slot {
        let g = read(&self.inner);
        match g.stacks.get(&id) {
            Some(e) if same_frames(&e.frames, frames) => {
                e.used.store(self.tick(), Ordering::Relaxed);
                Slot::Same(e.frames.clone())
            }
            Some(_) => Slot::Taken,
            None => match g.evicted.get(&id) {
                Some(fp) if *fp == self.fingerprint(frames) => Slot::Cold,
                Some(_) => Slot::Taken,
                None => Slot::Free,
            },
        }
    }

    /// Adds stacks not yet known; `persisted` says whether they come from
    /// the cold tier. A stack whose id is held by *other* frames (a hash
    /// collision, crafted or not) is never merged with them: it moves to
    /// its next free probe id ([`StackId::of_frames_probe`]). Returns those
    /// moves, `(id asked for, id given)`, so the caller renumbers its rows.
    pub fn insert_all<'a>(
        &self,
        stacks: impl IntoIterator<Item = (StackId, &'a [Arc<str>])>,
        persisted: bool,
    ) -> Vec<(StackId, StackId)> {
        let mut moves = Vec::new();
        let tick = self.tick();
        let mut inner = write(&self.inner);
        for (id, frames) in stacks {
            let mut slot = id;
            let mut probe = 0;
            loop {
                // A stack back from the cold tier: same frames, same id.
                if let Some(fp) = inner.evicted.get(&slot).copied() {
                    if fp == self.fingerprint(frames) {
                        inner.evicted.remove(&slot);
                        Self::add(&mut inner, slot, frames, true, tick);
                        break;
                    }
                    if persisted {
                        break;
                    }
                    probe += 1;
                    slot = StackId::of_frames_probe(frames, probe);
                    continue;
                }
                match inner.stacks.get_mut(&slot) {
                    Some(e) if same_frames(&e.frames, frames) => {
                        e.persisted |= persisted;
                        break;
                    }
                    Some(_) if persisted => {
                        // Two cold files disagree on one id: keep the first.
                        tracing::error!(
                            stack_id = slot.0,
                            "two stacks files hold different frames under one id; keeping the first"
                        );
                        break;
                    }
                    Some(_) if probe < MAX_PROBES => {
                        probe += 1;
                        slot = StackId::of_frames_probe(frames, probe);
                        continue;
                    }
                    Some(_) => {
                        tracing::error!(
                            stack_id = id.0,
                            "no free id for a colliding stack; it shares its id"
                        );
                        break;
                    }
                    None => {
                        Self::add(&mut inner, slot, frames, persisted, tick);
                        break;
                    }
                }
            }
            if slot != id {
                tracing::warn!(
                    asked = id.0,
                    given = slot.0,
                    "stack id collision: the stack keeps its frames under another id"
                );
                moves.push((id, slot));
            }
        }
        moves
    }

    fn add(
        inner: &mut StackTableInner,
        id: StackId,
        frames: &[Arc<str>],
        persisted: bool,
        tick: u64,
    ) {
        let mut bytes = entry_bytes(frames.len());
        let interned: Frames = frames
            .iter()
            .map(|name| match inner.names.get(name.as_ref()) {
                Some(n) => n.clone(),
                None => {
                    bytes += name.len() + 40;
                    inner.names.insert(name.clone());
                    name.clone()
                }
            })
            .collect();
        inner.bytes += bytes;
        inner.stacks.insert(
            id,
            StackEntry {
                frames: interned,
                persisted,
                used: AtomicU64::new(tick),
            },
        );
    }

    /// Records cold stacks by fingerprint only (their frames stay on disk).
    pub fn insert_cold_fingerprints<'a>(
        &self,
        stacks: impl IntoIterator<Item = (StackId, &'a [Arc<str>])>,
    ) {
        let mut inner = write(&self.inner);
        for (id, frames) in stacks {
            if !inner.stacks.contains_key(&id) {
                let fp = self.fingerprint(frames);
                inner.evicted.entry(id).or_insert(fp);
            }
        }
    }

    /// Keeps the frames of at most `budget` bytes: persisted stacks not in
    /// `live` (the ones hot windows use) go, least recently used first,
    /// until the table holds `budget * 3 / 4`. Returns how many went.
    pub fn evict(&self, budget: usize, live: &HashSet<u64, KeyedHash>) -> usize {
        if self.bytes() <= budget {
            return 0;
        }
        let target = budget / 4 * 3;
        let mut inner = write(&self.inner);
        let mut candidates: Vec<(u64, StackId, usize)> = inner
            .stacks
            .iter()
            .filter(|(id, e)| e.persisted && !live.contains(&id.0))
            .map(|(id, e)| (e.used.load(Ordering::Relaxed), *id, e.frames.len()))
            .collect();
        candidates.sort_unstable();
        let mut evicted = 0;
        for (_, id, _) in candidates {
            if inner.bytes <= target {
                break;
            }
            if let Some(e) = inner.stacks.remove(&id) {
                let fp = self.fingerprint(&e.frames);
                inner.bytes = inner.bytes.saturating_sub(entry_bytes(e.frames.len()));
                inner.evicted.insert(id, fp);
                evicted += 1;
            }
        }
        // Names no stack holds any more.
        let before = inner.names.len();
        let mut freed = 0;
        inner.names.retain(|n| {
            let keep = Arc::strong_count(n) > 1;
            if !keep {
                freed += n.len() + 40;
            }
            keep
        });
        inner.bytes = inner.bytes.saturating_sub(freed);
        tracing::info!(
            evicted,
            names_dropped = before - inner.names.len(),
            bytes = inner.bytes,
            "stack frames evicted (they stay in the stacks files)"
        );
        evicted
    }

    /// Of `ids`, those whose frames are not yet in any cold stacks file,
    /// with their frames.
    pub fn unpersisted(&self, ids: impl IntoIterator<Item = StackId>) -> Vec<(StackId, Frames)> {
        let inner = read(&self.inner);
        ids.into_iter()
            .filter_map(|id| {
                inner
                    .stacks
                    .get(&id)
                    .filter(|e| !e.persisted)
                    .map(|e| (id, e.frames.clone()))
            })
            .collect()
    }

    pub fn mark_persisted(&self, ids: impl IntoIterator<Item = StackId>) {
        let mut inner = write(&self.inner);
        for id in ids {
            if let Some(e) = inner.stacks.get_mut(&id) {
                e.persisted = true;
            }
        }
    }

    /// Frames for each id, `None` where the id is unknown or evicted.
    pub fn lookup_many(&self, ids: &[u64]) -> Vec<Option<Frames>> {
        let inner = read(&self.inner);
        let tick = self.tick();
        ids.iter()
            .map(|id| {
                inner.stacks.get(&StackId(*id)).map(|e| {
                    e.used.store(tick, Ordering::Relaxed);
                    e.frames.clone()
                })
            })
            .collect()
    }
}

/// How many alternative ids a colliding stack may try.
pub const MAX_PROBES: u64 = 16;

/// Where a stack stands against the table at one id.
#[derive(Debug, Clone)]
pub enum Slot {
    /// No stack has this id.
    Free,
    /// This very stack has it (its frames, shared).
    Same(Frames),
    /// Other frames have it: try the next probe id.
    Taken,
    /// This very stack has it, its frames in the cold tier only.
    Cold,
}

/// Whether stored frames equal `frames`.
pub fn same_frames<A: AsRef<str>, B: AsRef<str>>(a: &[A], b: &[B]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.as_ref() == y.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(names: &[&str]) -> Frames {
        names
            .iter()
            .map(|n| Arc::<str>::from(*n))
            .collect::<Vec<_>>()
            .into()
    }

    #[test]
    fn evicted_stacks_keep_their_id_and_still_catch_collisions() {
        let t = StackTable::default();
        let main = f(&["main", "work"]);
        let id = StackId::of_frames(&main);
        t.insert_all([(id, main.as_ref())], true);
        let before = t.bytes();
        assert!(before > 0);
        assert_eq!(t.evict(0, &HashSet::default()), 1);
        assert_eq!((t.len(), t.evicted_len()), (0, 1));
        // Only names still held elsewhere (by `main` here) stay counted.
        assert!(t.bytes() < before / 2, "{} of {before} bytes", t.bytes());
        // The same frames are known (cold); other frames under the id are not.
        assert!(matches!(t.compare(id, &["main", "work"]), Slot::Cold));
        assert!(matches!(t.compare(id, &["evil"]), Slot::Taken));
        let evil = f(&["evil"]);
        let moves = t.insert_all([(id, evil.as_ref())], false);
        assert_eq!(moves, vec![(id, StackId::of_frames_probe(&["evil"], 1))]);
        // A stack that hot data uses is never evicted.
        let hot = f(&["main", "hot"]);
        let hot_id = StackId::of_frames(&hot);
        t.insert_all([(hot_id, hot.as_ref())], true);
        let live: HashSet<u64, KeyedHash> = [hot_id.0].into_iter().collect();
        t.evict(0, &live);
        assert!(t.get(hot_id).is_some());
        // Coming back (read from the stacks files) it is in memory again.
        t.insert_all([(id, main.as_ref())], true);
        assert_eq!(t.get(id).as_deref(), Some(&*main));
        assert!(matches!(t.compare(id, &["main", "work"]), Slot::Same(_)));
    }
}

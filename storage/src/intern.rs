//! [`StackTable`], shared by the hot tier and the query layer: stack id →
//! frames, and which stacks are already in the cold tier.

use crate::ids::{KeyedHash, StackId};
use crate::model::Frames;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

#[derive(Debug)]
struct StackEntry {
    frames: Frames,
    /// True once a stacks file holding this stack is listed in the manifest.
    persisted: bool,
}

#[derive(Debug, Default)]
struct StackTableInner {
    stacks: HashMap<StackId, StackEntry, KeyedHash>,
    names: HashSet<Arc<str>>,
}

/// All stacks storage knows, hot and cold, deduplicated by [`StackId`].
///
/// Function names are interned, so a name shared by many stacks is stored
/// once.
#[derive(Debug, Default)]
pub struct StackTable {
    inner: RwLock<StackTableInner>,
}

impl StackTable {
    pub fn get(&self, id: StackId) -> Option<Frames> {
        read(&self.inner).stacks.get(&id).map(|e| e.frames.clone())
    }

    pub fn len(&self) -> usize {
        read(&self.inner).stacks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How `frames` stand against the stack stored under `id`.
    pub fn compare(&self, id: StackId, frames: &[&str]) -> Slot {
        match read(&self.inner).stacks.get(&id) {
            None => Slot::Free,
            Some(e) if same_frames(&e.frames, frames) => Slot::Same(e.frames.clone()),
            Some(_) => Slot::Taken,
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
        let mut inner = write(&self.inner);
        for (id, frames) in stacks {
            let mut slot = id;
            let mut probe = 0;
            loop {
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
                        let interned = intern_names(&mut inner.names, frames);
                        inner.stacks.insert(
                            slot,
                            StackEntry {
                                frames: interned,
                                persisted,
                            },
                        );
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

    /// Frames for each id, `None` where the id is unknown.
    pub fn lookup_many(&self, ids: &[u64]) -> Vec<Option<Frames>> {
        let inner = read(&self.inner);
        ids.iter()
            .map(|id| inner.stacks.get(&StackId(*id)).map(|e| e.frames.clone()))
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
}

/// Whether stored frames equal `frames`.
pub fn same_frames<A: AsRef<str>, B: AsRef<str>>(a: &[A], b: &[B]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.as_ref() == y.as_ref())
}

fn intern_names(names: &mut HashSet<Arc<str>>, frames: &[Arc<str>]) -> Frames {
    frames
        .iter()
        .map(|name| match names.get(name.as_ref()) {
            Some(n) => n.clone(),
            None => {
                names.insert(name.clone());
                name.clone()
            }
        })
        .collect()
}

fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

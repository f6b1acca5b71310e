//! The stack table as a cache over the stacks files: frames of stacks hot
//! data uses are always in memory; frames of cold stacks are kept while
//! they fit `stack_cache_bytes`, evicted least recently used first once
//! the table grows past it, and read back from the stacks files when a
//! query needs them ([`Engine::frames_of`]).

use crate::engine::Engine;
use crate::error::Result;
use crate::ids::KeyedHash;
use crate::manifest::FileKind;
use crate::model::Frames;
use std::collections::HashSet;
use std::sync::atomic::Ordering;

impl Engine {
    /// The frames of each stack id (`None` where no stack has it), reading
    /// those evicted from memory back from the stacks files.
    pub fn frames_of(&self, ids: &[u64]) -> Result<Vec<Option<Frames>>> {
        let stacks = self.stacks();
        let mut out = stacks.lookup_many(ids);
        let missing: Vec<u64> = ids
            .iter()
            .zip(&out)
            .filter(|(_, f)| f.is_none())
            .map(|(id, _)| *id)
            .collect();
        if missing.is_empty() {
            return Ok(out);
        }
        let files: Vec<_> = self
            .read_state()
            .manifest
            .files_of(FileKind::Stacks, None)
            .cloned()
            .collect();
        let fetched = block_on(crate::cold_stacks::fetch(
            self.store().clone(),
            files,
            &missing,
        ))?;
        self.stats()
            .stack_cold_reads
            .fetch_add(fetched.len() as u64, Ordering::Relaxed);
        stacks.insert_all(fetched.iter().map(|(id, f)| (*id, f.as_ref())), true);
        let found: std::collections::HashMap<u64, Frames> =
            fetched.into_iter().map(|(id, f)| (id.0, f)).collect();
        for (id, slot) in ids.iter().zip(out.iter_mut()) {
            if slot.is_none() {
                *slot = found.get(id).cloned();
            }
        }
        Ok(out)
    }
}

/// Evicts cold stacks' frames when the table is over its budget: any
/// stack a hot or persisting window uses stays.
pub(crate) fn evict(engine: &Engine) {
    let stacks = engine.stacks();
    stacks.advance_clock();
    let budget = engine.config().stack_cache_bytes;
    if stacks.bytes() <= budget {
        return;
    }
    let mut live: HashSet<u64, KeyedHash> = HashSet::default();
    {
        let st = engine.read_state();
        for w in st.hot.values().chain(st.persisting.iter().map(|(w, _)| w)) {
            for c in &w.samples {
                live.extend(c.stacks.iter().copied());
            }
        }
    }
    let n = stacks.evict(budget, &live);
    engine
        .stats()
        .stacks_evicted
        .fetch_add(n as u64, Ordering::Relaxed);
}

/// Runs a future to completion from synchronous code inside or outside a
/// runtime (a scalar function reading the stacks files, say).
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| h.block_on(f))
        }
        _ => futures::executor::block_on(f),
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{ColdStoreConfig, StorageConfig};
    use crate::engine::Engine;
    use crate::ids::{StackId, TenantId};
    use crate::model::{Frames, SeriesKey, SeriesSamples, WriteBatch};
    use std::sync::Arc;

    fn frames(i: usize) -> Frames {
        (0..20)
            .map(|d| Arc::<str>::from(format!("pkg{}.fn{}", i % 7, d * 31 + i)))
            .collect::<Vec<_>>()
            .into()
    }

    fn batch(range: std::ops::Range<usize>, time_ns: i64) -> WriteBatch {
        let mut b = WriteBatch::default();
        for i in range {
            let f = frames(i);
            let id = StackId::of_frames(&f);
            b.stacks.push((id, f));
            b.series.push(SeriesSamples {
                time_ns,
                key: SeriesKey {
                    tenant: TenantId::default_tenant(),
                    service: "s".into(),
                    instance: String::new(),
                    profile_type: "cpu".into(),
                    unit: "nanoseconds".into(),
                    state: None,
                    labels: Default::default(),
                },
                samples: vec![(id, 1)],
            });
        }
        b
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn evicted_frames_come_back_from_the_stacks_files() {
        let dir = tempfile::tempdir().unwrap();
        let config = StorageConfig {
            data_dir: dir.path().to_path_buf(),
            stack_cache_bytes: 64 << 10,
            ..Default::default()
        };
        assert!(matches!(config.cold, ColdStoreConfig::LocalDir(None)));
        let e = Engine::open(config, Arc::new(|_, _| Err("no replay".into())))
            .await
            .unwrap();
        let t = crate::engine::now_ns();
        for round in 0..10 {
            e.write(
                vec![],
                batch(round * 200..(round + 1) * 200, t - 600_000_000_000),
            )
            .await
            .unwrap();
            e.flush().await.unwrap();
        }
        let s = e.stacks();
        assert!(s.bytes() <= 64 << 10, "{} bytes of frames kept", s.bytes());
        assert!(s.evicted_len() > 1000, "{} evicted", s.evicted_len());
        // Every stack's frames, evicted or not, come back exactly.
        let ids: Vec<u64> = (0..2000)
            .map(|i| StackId::of_frames(&frames(i)).0)
            .collect();
        let got = e.frames_of(&ids).unwrap();
        for (i, f) in got.iter().enumerate() {
            assert_eq!(f.as_deref(), Some(&*frames(i)), "stack {i}");
        }
        assert!(
            e.stats()
                .stack_cold_reads
                .load(std::sync::atomic::Ordering::Relaxed)
                > 1000
        );
        // Read back again after being evicted once more.
        e.flush().await.unwrap();
        let evicted_id = StackId::of_frames(&frames(3));
        let again = e.frames_of(&[evicted_id.0]).unwrap();
        assert_eq!(again[0].as_deref(), Some(&*frames(3)));
    }
}

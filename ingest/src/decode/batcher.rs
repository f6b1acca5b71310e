//! [`Batcher`]: collects the rows of one request and gives each stack its
//! id.
//!
//! A stack's id is the hash of its frames ([`StackId::of_frames`]); when
//! that id already belongs to *other* frames, here or in storage, the
//! stack takes its next probe id instead, so two stacks are never merged
//! by a hash collision (whatever tenant wrote the first). Frames are kept
//! only for stacks storage does not know yet, with names shared within
//! the request, and charged to the request's memory before they are kept.

use super::budget::MemoryCharge;
use super::error::{DecodeError, DecodeResult};
use crate::limits::Limits;
use flarego_storage::intern::{MAX_PROBES, Slot, same_frames};
use flarego_storage::{
    Frames, KeyedHash, MetricPoint, SeriesKey, SeriesSamples, StackId, StackTable, WriteBatch,
};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// Bytes charged per new stack beside its frame pointers.
const STACK_OVERHEAD: usize = 64;

pub struct Batcher<'a> {
    stacks: &'a StackTable,
    /// Stacks this request used: their id and frames.
    used: HashMap<StackId, Frames, KeyedHash>,
    names: HashSet<Arc<str>, KeyedHash>,
    batch: WriteBatch,
    charge: &'a mut MemoryCharge,
}

impl<'a> Batcher<'a> {
    pub fn new(stacks: &'a StackTable, charge: &'a mut MemoryCharge) -> Self {
        Batcher {
            stacks,
            used: HashMap::default(),
            names: HashSet::default(),
            batch: WriteBatch::default(),
            charge,
        }
    }

    /// The request's memory charge, for decoders that allocate.
    pub fn charge(&mut self) -> &mut MemoryCharge {
        self.charge
    }

    /// The id of a root-first stack, registering its frames if new.
    pub fn stack(&mut self, frames: &[&str]) -> DecodeResult<StackId> {
        for probe in 0..=MAX_PROBES {
            let id = StackId::of_frames_probe(frames, probe);
            if let Some(f) = self.used.get(&id) {
                if same_frames(f, frames) {
                    return Ok(id);
                }
                continue;
            }
            match self.stacks.compare(id, frames) {
                Slot::Same(f) => {
                    self.used.insert(id, f);
                    return Ok(id);
                }
                Slot::Taken => continue,
                Slot::Cold => {
                    // Known, its frames in the cold tier: not kept again.
                    let f = self.keep(frames)?;
                    self.used.insert(id, f);
                    return Ok(id);
                }
                Slot::Free => {
                    let f = self.keep(frames)?;
                    self.used.insert(id, f.clone());
                    self.batch.stacks.push((id, f));
                    return Ok(id);
                }
            }
        }
        Err(DecodeError::BadRequest(format!(
            "no free stack id for a stack of {} frames after {MAX_PROBES} probes",
            frames.len()
        )))
    }

    /// The frames of a new stack, names shared within the request.
    fn keep(&mut self, frames: &[&str]) -> DecodeResult<Frames> {
        let mut cost = STACK_OVERHEAD + frames.len() * std::mem::size_of::<Arc<str>>();
        for f in frames {
            if !self.names.contains(*f) {
                cost += f.len() + 32;
            }
        }
        self.charge.charge("stacks", cost)?;
        Ok(frames
            .iter()
            .map(|f| match self.names.get(*f) {
                Some(n) => n.clone(),
                None => {
                    let n: Arc<str> = Arc::from(*f);
                    self.names.insert(n.clone());
                    n
                }
            })
            .collect())
    }

    pub fn push_series(&mut self, time_ns: i64, key: SeriesKey, samples: Vec<(StackId, i64)>) {
        if !samples.is_empty() {
            self.batch.series.push(SeriesSamples {
                time_ns,
                key,
                samples,
            });
        }
    }

    pub fn push_metric(&mut self, point: MetricPoint) {
        self.batch.metrics.push(point);
    }

    /// The batch, checked against the limits that apply to it whole: the
    /// number of samples, and the times of its rows against a write
    /// received at `received_ns`.
    pub fn finish(self, limits: &Limits, received_ns: i64) -> DecodeResult<WriteBatch> {
        let batch = self.finish_untimed(limits)?;
        let times = batch.series.iter().map(|s| ("profile", s.time_ns));
        let metric_times = batch.metrics.iter().map(|m| ("metric point", m.time_ns));
        for (what, t) in times.chain(metric_times) {
            super::check_time(what, t, received_ns, limits)?;
        }
        Ok(batch)
    }

    /// The batch, checked against the number of samples only (for rows
    /// that are not stored under their time, such as an import).
    pub fn finish_untimed(self, limits: &Limits) -> DecodeResult<WriteBatch> {
        let rows = self.batch.sample_rows();
        if rows > limits.max_samples {
            return Err(DecodeError::TooManySamples {
                count: rows,
                limit: limits.max_samples,
            });
        }
        Ok(self.batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colliding_stacks_keep_their_own_frames() {
        let table = StackTable::default();
        // Storage holds other frames under the natural id of ["main", "a"].
        let natural = StackId::of_frames(&["main", "a"]);
        let impostor: Frames = vec![Arc::<str>::from("evil"), Arc::from("x")].into();
        assert!(
            table
                .insert_all([(natural, impostor.as_ref())], false)
                .is_empty()
        );
        let mut charge = MemoryCharge::unlimited();
        let mut b = Batcher::new(&table, &mut charge);
        let id = b.stack(&["main", "a"]).unwrap();
        assert_ne!(id, natural);
        assert_eq!(id, StackId::of_frames_probe(&["main", "a"], 1));
        assert_eq!(b.stack(&["main", "a"]).unwrap(), id);
        let batch = b.finish(&Limits::unlimited(), 0).unwrap();
        assert_eq!(batch.stacks.len(), 1);
        table.insert_all(batch.stacks.iter().map(|(i, f)| (*i, f.as_ref())), false);
        assert_eq!(&*table.get(natural).unwrap()[0], "evil");
        assert_eq!(&*table.get(id).unwrap()[0], "main");
    }

    #[test]
    fn a_collision_that_races_in_storage_moves_the_later_stack() {
        let table = StackTable::default();
        let id = StackId::of_frames(&["main", "a"]);
        let mine: Frames = vec![Arc::<str>::from("main"), Arc::from("a")].into();
        let theirs: Frames = vec![Arc::<str>::from("evil")].into();
        // Another writer got there first with other frames under the same id.
        table.insert_all([(id, theirs.as_ref())], false);
        let moves = table.insert_all([(id, mine.as_ref())], false);
        assert_eq!(
            moves,
            vec![(id, StackId::of_frames_probe(&["main", "a"], 1))]
        );
        assert_eq!(&*table.get(id).unwrap()[0], "evil");
    }

    #[test]
    fn new_stacks_are_charged_before_they_are_kept() {
        let table = StackTable::default();
        let mut charge = MemoryCharge::new(500, None);
        let mut b = Batcher::new(&table, &mut charge);
        let deep: Vec<String> = (0..100).map(|i| format!("f{i}")).collect();
        let deep: Vec<&str> = deep.iter().map(String::as_str).collect();
        let e = b.stack(&deep).unwrap_err().to_string();
        assert!(e.contains("max_request_memory_bytes = 500"), "{e}");
    }
}

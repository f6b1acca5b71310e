//! Decoders: pprof, folded stacks, Pyroscope push requests and agent
//! chunks into a
//! [`WriteBatch`], validated against [`Limits`].
//!
//! The same functions run at ingest and on WAL replay (see
//! [`crate::record`]), so a replayed write yields exactly the rows it
//! yielded when it was acknowledged.

pub mod chunk;
pub mod error;
pub mod folded;
pub mod gzip;
pub mod labels;
pub mod pprof;
pub mod push;
pub mod types;

pub use error::{DecodeError, DecodeResult};

use flarego_storage::{
    FastHash, Frames, SeriesKey, SeriesSamples, StackId, StackTable, WriteBatch,
};
use std::collections::HashSet;
use std::sync::Arc;

use crate::limits::Limits;

/// Collects the rows of one request, adding frames only for stacks the
/// storage does not know yet.
pub struct Batcher<'a> {
    stacks: &'a StackTable,
    seen: HashSet<StackId, FastHash>,
    batch: WriteBatch,
}

impl<'a> Batcher<'a> {
    pub fn new(stacks: &'a StackTable) -> Self {
        Batcher {
            stacks,
            seen: HashSet::default(),
            batch: WriteBatch::default(),
        }
    }

    /// The id of a root-first stack, registering its frames if new.
    pub fn stack(&mut self, frames: &[&str]) -> StackId {
        let id = StackId::of_frames(frames);
        if self.seen.insert(id) && !self.stacks.contains(id) {
            let f: Frames = frames.iter().map(|s| Arc::<str>::from(*s)).collect();
            self.batch.stacks.push((id, f));
        }
        id
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

    pub fn push_metric(&mut self, point: flarego_storage::MetricPoint) {
        self.batch.metrics.push(point);
    }

    pub fn finish(self, limits: &Limits) -> DecodeResult<WriteBatch> {
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

//! What a write carries into storage: series keys, stacks and values,
//! already decoded and validated by the ingest layer.

use crate::ids::{StackId, TenantId};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Frame names of one stack, root first.
pub type Frames = Arc<[Arc<str>]>;

/// Everything that identifies one profile series (all but the stack).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesKey {
    pub tenant: TenantId,
    pub service: String,
    pub instance: String,
    /// `cpu`, `goroutine`, `heap_inuse_space`, … (see `docs/schema.md`).
    pub profile_type: String,
    /// `nanoseconds`, `count`, `bytes`, …
    pub unit: String,
    /// Goroutine state (`chan receive`, `IO wait`, …); `None` for other types.
    pub state: Option<String>,
    pub labels: BTreeMap<String, String>,
}

/// Identifies one metric series.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MetricKey {
    pub tenant: TenantId,
    pub service: String,
    pub instance: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

/// Values of one profile series at one time: `(stack, value)` pairs.
#[derive(Debug, Clone)]
pub struct SeriesSamples {
    /// Time of the profile (ns since epoch); storage files it under the
    /// window that contains it.
    pub time_ns: i64,
    pub key: SeriesKey,
    pub samples: Vec<(StackId, i64)>,
}

/// One metric point.
#[derive(Debug, Clone)]
pub struct MetricPoint {
    pub time_ns: i64,
    pub key: MetricKey,
    pub value: f64,
}

/// One decoded write: applied to the hot tier after its raw form is in the WAL.
#[derive(Debug, Clone, Default)]
pub struct WriteBatch {
    /// Frames of every stack the samples reference. Stacks storage already
    /// knows may be left out (see [`crate::StackTable::contains`]).
    pub stacks: Vec<(StackId, Frames)>,
    pub series: Vec<SeriesSamples>,
    pub metrics: Vec<MetricPoint>,
    /// Set by numbered senders: the write is stored only if its number is
    /// above the source's mark (see [`crate::sequences`]).
    pub sequence: Option<crate::sequences::Sequenced>,
}

impl WriteBatch {
    /// Number of sample rows (stack values) in the batch.
    pub fn sample_rows(&self) -> usize {
        self.series.iter().map(|s| s.samples.len()).sum()
    }
    pub fn is_empty(&self) -> bool {
        self.series.iter().all(|s| s.samples.is_empty()) && self.metrics.is_empty()
    }
}

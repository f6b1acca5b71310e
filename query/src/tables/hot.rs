//! Hot rows as a lazy scan: each partition builds its record batches one
//! slice at a time, as DataFusion pulls them, straight from the shared
//! hot chunks (zero-copy slices of their buffers). Nothing of the hot tier
//! is materialized up front, so a query over gigabytes of hot rows holds
//! one batch per partition, and whatever its operators hold is charged to
//! its memory pool as usual.

use super::bounds::TimeBounds;
use super::scan::ScanScope;
use datafusion::arrow::array::{BooleanArray, RecordBatch};
use datafusion::arrow::buffer::ScalarBuffer;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::common::Result;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::memory::{LazyBatchGenerator, LazyMemoryExec};
use flarego_storage::TierSnapshot;
use flarego_storage::arrays::{self, MetricRows, SampleRows, SeriesColumns};
use flarego_storage::hot::{MetricChunk, SampleChunk};
use parking_lot::RwLock;
use std::any::Any;
use std::fmt;
use std::sync::Arc;

/// One hot chunk to scan, with the window it belongs to.
#[derive(Clone)]
enum Work {
    Samples {
        window: i64,
        chunk: Arc<SampleChunk>,
    },
    Metrics {
        chunk: Arc<MetricChunk>,
    },
}

impl Work {
    fn len(&self) -> usize {
        match self {
            Work::Samples { chunk, .. } => chunk.len(),
            Work::Metrics { chunk } => chunk.len(),
        }
    }
}

/// What every partition of one scan shares.
struct Shared {
    cols: SeriesColumns,
    /// Per series: may the scope see it? `None`: every series.
    allowed: Option<Vec<bool>>,
    projection: Vec<usize>,
    duration_ns: i64,
    batch_rows: usize,
}

/// The chunks of one partition, handed out a slice at a time.
#[derive(Clone)]
struct HotBatches {
    shared: Arc<Shared>,
    work: Arc<Vec<Work>>,
    next: usize,
    offset: usize,
}

impl fmt::Debug for HotBatches {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HotBatches({} chunks)", self.work.len())
    }
}

impl fmt::Display for HotBatches {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rows: usize = self.work.iter().map(Work::len).sum();
        write!(f, "hot: chunks={}, rows={rows}", self.work.len())
    }
}

impl LazyBatchGenerator for HotBatches {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn generate_next_batch(&mut self) -> Result<Option<RecordBatch>> {
        while let Some(work) = self.work.get(self.next) {
            let len = work.len();
            if self.offset >= len {
                self.next += 1;
                self.offset = 0;
                continue;
            }
            let (at, n) = (self.offset, self.shared.batch_rows.min(len - self.offset));
            self.offset += n;
            if let Some(b) = self.slice(work, at, n)? {
                return Ok(Some(b));
            }
        }
        Ok(None)
    }

    fn reset_state(&self) -> Arc<RwLock<dyn LazyBatchGenerator>> {
        let mut fresh = self.clone();
        fresh.next = 0;
        fresh.offset = 0;
        Arc::new(RwLock::new(fresh))
    }
}

impl HotBatches {
    /// Rows `[at, at + n)` of one chunk, as a batch of the visible rows.
    fn slice(&self, work: &Work, at: usize, n: usize) -> Result<Option<RecordBatch>> {
        let s = &self.shared;
        let (batch, series) = match work {
            Work::Samples { window, chunk } => {
                let series = chunk.series.slice(at, n);
                let rows = SampleRows {
                    time: ScalarBuffer::from(vec![*window; n]),
                    duration_ns: s.duration_ns,
                    series: series.clone(),
                    stacks: chunk.stacks.slice(at, n),
                    values: chunk.values.slice(at, n),
                };
                (
                    arrays::samples_batch(&rows, &s.cols, Some(&s.projection))?,
                    series,
                )
            }
            Work::Metrics { chunk } => {
                let series = chunk.series.slice(at, n);
                let rows = MetricRows {
                    time: chunk.times.slice(at, n),
                    series: series.clone(),
                    values: chunk.values.slice(at, n),
                };
                (
                    arrays::metrics_batch(&rows, &s.cols, Some(&s.projection))?,
                    series,
                )
            }
        };
        restrict(batch, &series, s.allowed.as_deref())
    }
}

/// Keeps the rows of `batch` whose series is allowed.
fn restrict(
    batch: RecordBatch,
    series: &ScalarBuffer<u32>,
    allowed: Option<&[bool]>,
) -> Result<Option<RecordBatch>> {
    let Some(allowed) = allowed else {
        return Ok(Some(batch));
    };
    let ok = |s: &u32| allowed.get(*s as usize).copied().unwrap_or(false);
    if series.iter().all(ok) {
        return Ok(Some(batch));
    }
    if !series.iter().any(ok) {
        return Ok(None);
    }
    let mask: BooleanArray = series.iter().map(|s| Some(ok(s))).collect();
    Ok(Some(datafusion::arrow::compute::filter_record_batch(
        &batch, &mask,
    )?))
}

/// Which rows a scan wants from the hot tier.
pub enum HotKind {
    Samples,
    Metrics,
}

/// A lazy scan of the snapshot's hot windows within `bounds` and `scope`,
/// `projection` being indexes into the table's file schema; `None` when
/// no hot chunk is in range.
pub fn hot_exec(
    state: &dyn Session,
    snap: &TierSnapshot,
    kind: HotKind,
    schema: SchemaRef,
    projection: &[usize],
    bounds: TimeBounds,
    scope: &ScanScope,
) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let mut work = Vec::new();
    for w in &snap.hot {
        match kind {
            HotKind::Samples if bounds.overlaps(w.start.0, w.start.0) => {
                work.extend(w.samples.iter().map(|c| Work::Samples {
                    window: w.start.0,
                    chunk: c.clone(),
                }));
            }
            HotKind::Metrics
                if bounds.overlaps(w.start.0, w.start.0.saturating_add(snap.window_ns)) =>
            {
                work.extend(w.metrics.iter().map(|c| Work::Metrics { chunk: c.clone() }));
            }
            _ => {}
        }
    }
    if work.is_empty() {
        return Ok(None);
    }
    let (cols, tenants): (SeriesColumns, Vec<&flarego_storage::TenantId>) = match kind {
        HotKind::Samples => (
            SeriesColumns::for_samples(&snap.series),
            snap.series.iter().map(|k| &k.tenant).collect(),
        ),
        HotKind::Metrics => (
            SeriesColumns::for_metrics(&snap.metric_series),
            snap.metric_series.iter().map(|k| &k.tenant).collect(),
        ),
    };
    let allowed = scope
        .tenant
        .as_ref()
        .map(|t| tenants.iter().map(|x| *x == t).collect());
    let shared = Arc::new(Shared {
        cols,
        allowed,
        projection: projection.to_vec(),
        duration_ns: snap.window_ns,
        batch_rows: state.config().batch_size().max(1),
    });
    let n = state.config().target_partitions().max(1).min(work.len());
    let mut parts: Vec<Vec<Work>> = vec![Vec::new(); n];
    for (i, w) in work.into_iter().enumerate() {
        parts[i % n].push(w);
    }
    let generators: Vec<Arc<RwLock<dyn LazyBatchGenerator>>> = parts
        .into_iter()
        .map(|work| {
            Arc::new(RwLock::new(HotBatches {
                shared: shared.clone(),
                work: Arc::new(work),
                next: 0,
                offset: 0,
            })) as Arc<RwLock<dyn LazyBatchGenerator>>
        })
        .collect();
    Ok(Some(Arc::new(LazyMemoryExec::try_new(schema, generators)?)))
}

//! Turning a decoded [`WriteBatch`] into hot chunks, outside any lock of
//! the engine's state: stacks are registered (a colliding stack moves to
//! its probe id and its rows follow), series are interned, and rows are
//! grouped per window into exact-sized column buffers.

use crate::engine::Engine;
use crate::hot::{MetricChunk, SampleChunk};
use crate::ids::WindowStart;
use crate::model::{MetricKey, SeriesKey, WriteBatch};
use crate::sequences::Sequenced;
use crate::series::SeriesTable;
use arrow::buffer::ScalarBuffer;
use std::collections::HashMap;
use std::sync::Arc;

/// `(series, stack, value)` columns being built for one window.
type SampleColumns = (Vec<u32>, Vec<u64>, Vec<i64>);
/// `(series, time, value)` columns being built for one window.
type MetricColumns = (Vec<u32>, Vec<i64>, Vec<f64>);

/// Rows of one batch, grouped per window, ready to push.
pub struct PreparedWrite {
    pub(crate) sequence: Option<Sequenced>,
    pub(crate) samples: Vec<(WindowStart, SampleChunk)>,
    pub(crate) metrics: Vec<(WindowStart, MetricChunk)>,
    /// The series numbering the chunks use, and the keys behind them.
    series_epoch: u64,
    series_keys: Vec<(u32, Arc<SeriesKey>)>,
    metric_epoch: u64,
    metric_keys: Vec<(u32, Arc<MetricKey>)>,
}

impl Engine {
    /// Interns series and builds one chunk per window, outside any lock.
    pub(crate) fn prepare(&self, batch: &WriteBatch) -> PreparedWrite {
        let moves = self
            .inner
            .stacks
            .insert_all(batch.stacks.iter().map(|(id, f)| (*id, f.as_ref())), false);
        // Stacks that collided with other frames got other ids: renumber.
        let moved: HashMap<u64, u64> = moves.into_iter().map(|(a, b)| (a.0, b.0)).collect();
        loop {
            let epochs = (self.inner.series.epoch(), self.inner.metric_series.epoch());
            let p = self.prepare_rows(batch, &moved, epochs);
            // Renumbered while interning: indexes may mix, do it again.
            if epochs == (self.inner.series.epoch(), self.inner.metric_series.epoch()) {
                return p;
            }
        }
    }

    fn prepare_rows(
        &self,
        batch: &WriteBatch,
        moved: &HashMap<u64, u64>,
        (series_epoch, metric_epoch): (u64, u64),
    ) -> PreparedWrite {
        let w = self.window_ns();
        let mut series_keys = Vec::new();
        let mut samples: HashMap<WindowStart, SampleColumns> = HashMap::new();
        for s in &batch.series {
            if s.samples.is_empty() {
                continue;
            }
            let (idx, key) = self.inner.series.intern(&s.key);
            series_keys.push((idx, key));
            let e = samples
                .entry(WindowStart::containing(s.time_ns, w))
                .or_default();
            for (stack, v) in &s.samples {
                e.0.push(idx);
                e.1.push(if moved.is_empty() {
                    stack.0
                } else {
                    moved.get(&stack.0).copied().unwrap_or(stack.0)
                });
                e.2.push(*v);
            }
        }
        let mut metric_keys = Vec::new();
        let mut metrics: HashMap<WindowStart, MetricColumns> = HashMap::new();
        for m in &batch.metrics {
            let (idx, key) = self.inner.metric_series.intern(&m.key);
            metric_keys.push((idx, key));
            let e = metrics
                .entry(WindowStart::containing(m.time_ns, w))
                .or_default();
            e.0.push(idx);
            e.1.push(m.time_ns);
            e.2.push(m.value);
        }
        series_keys.dedup_by_key(|(i, _)| *i);
        metric_keys.dedup_by_key(|(i, _)| *i);
        PreparedWrite {
            sequence: batch.sequence.clone(),
            samples: samples
                .into_iter()
                .map(|(w, (a, b, c))| {
                    // Exact-sized buffers: the hot tier pays 20 bytes a row.
                    (
                        w,
                        SampleChunk {
                            series: exact(a),
                            stacks: exact(b),
                            values: exact(c),
                        },
                    )
                })
                .collect(),
            metrics: metrics
                .into_iter()
                .map(|(w, (a, b, c))| {
                    (
                        w,
                        MetricChunk {
                            series: exact(a),
                            times: exact(b),
                            values: exact(c),
                        },
                    )
                })
                .collect(),
            series_epoch,
            series_keys,
            metric_epoch,
            metric_keys,
        }
    }
}

fn exact<T: arrow::datatypes::ArrowNativeType>(mut v: Vec<T>) -> ScalarBuffer<T> {
    v.shrink_to_fit();
    ScalarBuffer::from(v)
}

impl PreparedWrite {
    /// The write as a live-tail event (chunk buffers shared, not copied).
    pub(crate) fn live_event(&self, lsn: crate::ids::Lsn) -> crate::live::LiveEvent {
        let mut series = self.series_keys.clone();
        series.sort_by_key(|(i, _)| *i);
        series.dedup_by_key(|(i, _)| *i);
        let mut metric_series = self.metric_keys.clone();
        metric_series.sort_by_key(|(i, _)| *i);
        metric_series.dedup_by_key(|(i, _)| *i);
        crate::live::LiveEvent {
            lsn,
            samples: self.samples.clone(),
            series,
            metrics: self.metrics.clone(),
            metric_series,
        }
    }

    /// Renumbers the chunks' series when the tables were renumbered since
    /// [`Engine::prepare`] (call under the state's write lock, which
    /// renumbering also takes).
    pub(crate) fn renumber_if_stale(
        &mut self,
        series: &SeriesTable<SeriesKey>,
        metric_series: &SeriesTable<MetricKey>,
    ) {
        if self.series_epoch != series.epoch() {
            let map = remap(&self.series_keys, series);
            for (_, c) in &mut self.samples {
                c.series = c.series.iter().map(|s| map[s]).collect();
            }
            self.series_epoch = series.epoch();
        }
        if self.metric_epoch != metric_series.epoch() {
            let map = remap(&self.metric_keys, metric_series);
            for (_, c) in &mut self.metrics {
                c.series = c.series.iter().map(|s| map[s]).collect();
            }
            self.metric_epoch = metric_series.epoch();
        }
    }
}

/// Old index → index in the table now, for the keys a write used.
fn remap<K: Eq + std::hash::Hash + Clone>(
    keys: &[(u32, Arc<K>)],
    table: &SeriesTable<K>,
) -> HashMap<u32, u32> {
    keys.iter()
        .map(|(old, k)| (*old, table.intern(k).0))
        .collect()
}

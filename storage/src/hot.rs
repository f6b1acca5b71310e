//! The hot tier: time windows of recent rows, in memory, column-wise.
//!
//! A [`HotWindow`] holds immutable [`SampleChunk`]s and [`MetricChunk`]s.
//! A profile sample row costs 20 bytes (`u32` series index, `u64` stack
//! id, `i64` value); the window's start stands in for its time. Chunks are
//! exact-sized and merged as they accumulate (like a binary counter), so a
//! window holds O(log n) chunks and readers share them without copying.

use crate::ids::{Lsn, WindowStart};
use arrow::buffer::ScalarBuffer;
use std::sync::Arc;

/// Profile sample rows, column-wise.
#[derive(Debug, Clone)]
pub struct SampleChunk {
    pub series: ScalarBuffer<u32>,
    pub stacks: ScalarBuffer<u64>,
    pub values: ScalarBuffer<i64>,
}

impl SampleChunk {
    pub fn len(&self) -> usize {
        self.values.len()
    }
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
    fn concat(a: &SampleChunk, b: &SampleChunk) -> SampleChunk {
        SampleChunk {
            series: concat_buf(&a.series, &b.series),
            stacks: concat_buf(&a.stacks, &b.stacks),
            values: concat_buf(&a.values, &b.values),
        }
    }
    /// Bytes allocated for the row data (buffer capacities).
    pub fn bytes(&self) -> usize {
        self.series.inner().capacity()
            + self.stacks.inner().capacity()
            + self.values.inner().capacity()
    }
}

/// Metric rows, column-wise.
#[derive(Debug, Clone)]
pub struct MetricChunk {
    pub series: ScalarBuffer<u32>,
    pub times: ScalarBuffer<i64>,
    pub values: ScalarBuffer<f64>,
}

impl MetricChunk {
    pub fn len(&self) -> usize {
        self.values.len()
    }
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
    fn concat(a: &MetricChunk, b: &MetricChunk) -> MetricChunk {
        MetricChunk {
            series: concat_buf(&a.series, &b.series),
            times: concat_buf(&a.times, &b.times),
            values: concat_buf(&a.values, &b.values),
        }
    }
}

fn concat_buf<T: arrow::datatypes::ArrowNativeType>(
    a: &ScalarBuffer<T>,
    b: &ScalarBuffer<T>,
) -> ScalarBuffer<T> {
    let mut v = Vec::with_capacity(a.len() + b.len());
    v.extend_from_slice(a);
    v.extend_from_slice(b);
    ScalarBuffer::from(v)
}

/// One time window of hot rows.
#[derive(Debug, Clone)]
pub struct HotWindow {
    pub start: WindowStart,
    pub samples: Vec<Arc<SampleChunk>>,
    pub metrics: Vec<Arc<MetricChunk>>,
    /// Oldest and newest WAL record whose rows are in this window.
    pub min_lsn: Lsn,
    pub max_lsn: Lsn,
}

impl HotWindow {
    pub fn new(start: WindowStart, lsn: Lsn) -> Self {
        HotWindow {
            start,
            samples: Vec::new(),
            metrics: Vec::new(),
            min_lsn: lsn,
            max_lsn: lsn,
        }
    }

    pub fn sample_rows(&self) -> usize {
        self.samples.iter().map(|c| c.len()).sum()
    }

    pub fn metric_rows(&self) -> usize {
        self.metrics.iter().map(|c| c.len()).sum()
    }

    /// Bytes held by this window's row data (the chunk buffers).
    pub fn bytes(&self) -> usize {
        self.samples.iter().map(|c| c.bytes()).sum::<usize>()
            + self
                .metrics
                .iter()
                .map(|c| {
                    c.series.inner().capacity()
                        + c.times.inner().capacity()
                        + c.values.inner().capacity()
                })
                .sum::<usize>()
    }

    pub fn push_samples(&mut self, lsn: Lsn, chunk: SampleChunk) {
        if chunk.is_empty() {
            return;
        }
        self.note_lsn(lsn);
        self.samples.push(Arc::new(chunk));
        // Merge while the newest chunk is at least as large as the one
        // before: each row is copied O(log n) times in all.
        while self.samples.len() >= 2 {
            let n = self.samples.len();
            if self.samples[n - 1].len() < self.samples[n - 2].len() {
                break;
            }
            let b = self.samples.pop();
            let a = self.samples.pop();
            if let (Some(a), Some(b)) = (a, b) {
                self.samples.push(Arc::new(SampleChunk::concat(&a, &b)));
            }
        }
    }

    pub fn push_metrics(&mut self, lsn: Lsn, chunk: MetricChunk) {
        if chunk.is_empty() {
            return;
        }
        self.note_lsn(lsn);
        self.metrics.push(Arc::new(chunk));
        while self.metrics.len() >= 2 {
            let n = self.metrics.len();
            if self.metrics[n - 1].len() < self.metrics[n - 2].len() {
                break;
            }
            let b = self.metrics.pop();
            let a = self.metrics.pop();
            if let (Some(a), Some(b)) = (a, b) {
                self.metrics.push(Arc::new(MetricChunk::concat(&a, &b)));
            }
        }
    }

    fn note_lsn(&mut self, lsn: Lsn) {
        self.min_lsn = self.min_lsn.min(lsn);
        self.max_lsn = self.max_lsn.max(lsn);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(n: usize, v: i64) -> SampleChunk {
        SampleChunk {
            series: ScalarBuffer::from(vec![0u32; n]),
            stacks: ScalarBuffer::from(vec![7u64; n]),
            values: ScalarBuffer::from(vec![v; n]),
        }
    }

    #[test]
    fn chunks_merge_logarithmically_and_keep_every_row() {
        let mut w = HotWindow::new(WindowStart(0), Lsn(1));
        for i in 0..1000 {
            w.push_samples(Lsn(i + 1), chunk(10, 1));
        }
        assert_eq!(w.sample_rows(), 10_000);
        let total: i64 = w.samples.iter().flat_map(|c| c.values.iter()).sum();
        assert_eq!(total, 10_000);
        assert!(w.samples.len() <= 11, "{} chunks", w.samples.len());
        assert_eq!(w.bytes(), 200_000);
        assert_eq!((w.min_lsn, w.max_lsn), (Lsn(1), Lsn(1000)));
    }
}

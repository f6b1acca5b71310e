//! The live feed: every write applied to the hot tier, in LSN order, for
//! live-tail subscribers.
//!
//! ```text
//! WAL writer ─ apply(lsn) ─▶ LiveFeed::publish ─▶ ring (bounded by bytes)
//!                                              └▶ watch: newest LSN
//! subscriber: cursor ─ wait for newer ─▶ read events after cursor ─▶ …
//! ```
//!
//! One ring is shared by every subscriber; a subscriber holds only its
//! cursor (the last LSN it saw), so a slow or stuck subscriber costs no
//! memory and never slows ingest: when the ring has dropped events past
//! its cursor, the next read says how many it missed. The ring keeps the
//! newest events within `live_buffer_bytes`; a subscriber reconnecting
//! with its cursor gets what it missed from the ring, with no gap and no
//! repeat (LSNs are dense: every appended record is published once).
//! Writes replayed at start are not published.

use crate::hot::{MetricChunk, SampleChunk};
use crate::ids::{Lsn, WindowStart};
use crate::model::{MetricKey, SeriesKey};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// One applied write: its rows per window, with the keys of the series
/// numbers its chunks use.
#[derive(Debug)]
pub struct LiveEvent {
    pub lsn: Lsn,
    pub samples: Vec<(WindowStart, SampleChunk)>,
    pub series: Vec<(u32, Arc<SeriesKey>)>,
    pub metrics: Vec<(WindowStart, MetricChunk)>,
    pub metric_series: Vec<(u32, Arc<MetricKey>)>,
}

impl LiveEvent {
    /// Bytes the event holds (its row buffers and keys, roughly).
    pub fn bytes(&self) -> usize {
        let rows: usize = self
            .samples
            .iter()
            .map(|(_, c)| c.len() * 20)
            .sum::<usize>()
            + self
                .metrics
                .iter()
                .map(|(_, c)| c.len() * 20)
                .sum::<usize>();
        rows + (self.series.len() + self.metric_series.len()) * 64 + 128
    }

    /// The key of series number `idx` of this event.
    pub fn series_key(&self, idx: u32) -> Option<&Arc<SeriesKey>> {
        self.series
            .binary_search_by_key(&idx, |(i, _)| *i)
            .ok()
            .map(|i| &self.series[i].1)
    }
}

/// What a subscriber reads after its cursor.
#[derive(Debug)]
pub struct LiveRead {
    /// Writes published after the cursor that the ring no longer holds.
    pub missed: u64,
    /// The next events after the cursor (and after what was missed).
    pub events: Vec<Arc<LiveEvent>>,
}

#[derive(Debug, Default)]
struct Ring {
    events: VecDeque<Arc<LiveEvent>>,
    bytes: usize,
}

/// The ring of recent events and the newest LSN.
#[derive(Debug)]
pub struct LiveFeed {
    ring: Mutex<Ring>,
    budget: usize,
    newest: watch::Sender<Lsn>,
}

impl LiveFeed {
    pub fn new(budget: usize) -> Self {
        LiveFeed {
            ring: Mutex::new(Ring::default()),
            budget,
            newest: watch::Sender::new(Lsn(0)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ring> {
        self.ring.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds an applied write (in LSN order), dropping the oldest events
    /// past the budget.
    pub fn publish(&self, event: LiveEvent) {
        let lsn = event.lsn;
        let bytes = event.bytes();
        {
            let mut r = self.lock();
            r.events.push_back(Arc::new(event));
            r.bytes += bytes;
            while r.bytes > self.budget && r.events.len() > 1 {
                if let Some(old) = r.events.pop_front() {
                    r.bytes = r.bytes.saturating_sub(old.bytes());
                }
            }
        }
        self.newest.send_replace(lsn);
    }

    /// The newest published LSN (0 before any).
    pub fn newest(&self) -> Lsn {
        *self.newest.borrow()
    }

    /// A receiver that changes whenever a write is published.
    pub fn watch(&self) -> watch::Receiver<Lsn> {
        self.newest.subscribe()
    }

    /// Up to `max` events after `cursor`, and how many were missed.
    pub fn read_after(&self, cursor: Lsn, max: usize) -> LiveRead {
        let r = self.lock();
        let newest = self.newest();
        let first = r.events.front().map(|e| e.lsn.0);
        let missed = match first {
            Some(first) if first > cursor.0 + 1 => first - cursor.0 - 1,
            // Nothing held: everything after the cursor was dropped.
            None if newest.0 > cursor.0 => newest.0 - cursor.0,
            _ => 0,
        };
        // Events are in LSN order: skip those at or before the cursor.
        let start = r.events.partition_point(|e| e.lsn <= cursor);
        let events = r.events.iter().skip(start).take(max).cloned().collect();
        LiveRead { missed, events }
    }

    /// Events and bytes the ring holds.
    pub fn held(&self) -> (usize, usize) {
        let r = self.lock();
        (r.events.len(), r.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::buffer::ScalarBuffer;

    fn event(lsn: u64, rows: usize) -> LiveEvent {
        LiveEvent {
            lsn: Lsn(lsn),
            samples: vec![(
                WindowStart(0),
                SampleChunk {
                    series: ScalarBuffer::from(vec![0u32; rows]),
                    stacks: ScalarBuffer::from(vec![1u64; rows]),
                    values: ScalarBuffer::from(vec![1i64; rows]),
                },
            )],
            series: Vec::new(),
            metrics: Vec::new(),
            metric_series: Vec::new(),
        }
    }

    #[test]
    fn readers_resume_after_their_cursor_and_learn_what_was_dropped() {
        let one = event(1, 100).bytes();
        let feed = LiveFeed::new(one * 3);
        for lsn in 1..=5 {
            feed.publish(event(lsn, 100));
        }
        assert_eq!(feed.held().0, 3, "the budget holds three");
        assert_eq!(feed.newest(), Lsn(5));
        // A reader that saw 3 gets 4 and 5, nothing missed, no repeat.
        let r = feed.read_after(Lsn(3), 10);
        let lsns: Vec<u64> = r.events.iter().map(|e| e.lsn.0).collect();
        assert_eq!((r.missed, lsns), (0, vec![4, 5]));
        // A reader that saw 1 missed 2 (dropped), then gets 3, 4, 5.
        let r = feed.read_after(Lsn(1), 2);
        let lsns: Vec<u64> = r.events.iter().map(|e| e.lsn.0).collect();
        assert_eq!((r.missed, lsns), (1, vec![3, 4]));
        // Caught up: nothing.
        let r = feed.read_after(Lsn(5), 10);
        assert_eq!((r.missed, r.events.len()), (0, 0));
    }
}

//! Chunks waiting for the server's ack, oldest first, bounded in bytes.
//!
//! The window loop pushes each chunk as it is made; the uploader sends
//! them in order and removes each once acked. When the server is away
//! for long, the oldest chunks are dropped to stay under the bound, and
//! counted, so the agent can report what it lost. With a [`Spool`] the
//! queue is mirrored on disk, so it outlives the agent process.

use crate::spool::Spool;
use flarego_proto::agent::v1::Chunk;
use prost::Message;
use std::collections::VecDeque;
use std::sync::Mutex;
use tokio::sync::Notify;

/// One buffered chunk, encoded once.
#[derive(Debug, Clone)]
pub struct Pending {
    pub seq: u64,
    pub chunk: Chunk,
    pub bytes: usize,
}

#[derive(Debug, Default)]
struct Inner {
    queue: VecDeque<Pending>,
    bytes: usize,
    dropped: u64,
    delivered: u64,
    refused: u64,
    closed: bool,
}

/// The bounded buffer between the window loop and the uploader.
#[derive(Debug)]
pub struct Outbox {
    max_bytes: usize,
    inner: Mutex<Inner>,
    changed: Notify,
    /// Mirrors the queue on disk when `--buffer-dir` is set.
    spool: Option<Spool>,
}

/// Counters of what went through the outbox.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxStats {
    pub queued: usize,
    pub queued_bytes: usize,
    /// Dropped unsent because the buffer was full (oldest first).
    pub dropped: u64,
    /// Acked by the server (stored, or already stored).
    pub delivered: u64,
    /// Acked with an error: the server will never store them.
    pub refused: u64,
}

impl Outbox {
    pub fn new(max_bytes: usize) -> Self {
        Outbox {
            max_bytes,
            inner: Mutex::new(Inner::default()),
            changed: Notify::new(),
            spool: None,
        }
    }

    /// An outbox whose queue is also kept in `spool`.
    pub fn with_spool(max_bytes: usize, spool: Spool) -> Self {
        Outbox {
            spool: Some(spool),
            ..Outbox::new(max_bytes)
        }
    }

    /// Queues a chunk an earlier run left on disk (already saved).
    pub fn restore(&self, chunk: Chunk) -> u64 {
        self.enqueue(chunk)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues a chunk; drops the oldest ones while over the bound (the
    /// newest is always kept). Returns how many were dropped.
    ///
    /// With a spool, the chunk (and the next sequence number) is made
    /// durable first, on a blocking thread so the agent's one runtime
    /// thread never waits on fsync, and only then offered to the uploader:
    /// a chunk the server acked is always on disk, so after a power loss
    /// the sequence can never go back to a number the server has seen.
    pub async fn push(&self, chunk: Chunk) -> u64 {
        let chunk = match &self.spool {
            Some(spool) => {
                let spool = spool.clone();
                let saved = tokio::task::spawn_blocking(move || {
                    let r = spool.save(&chunk);
                    (chunk, r)
                })
                .await;
                match saved {
                    Ok((chunk, Ok(()))) => chunk,
                    Ok((chunk, Err(e))) => {
                        tracing::warn!(error = %e, seq = chunk.seq, "chunk kept in memory only");
                        chunk
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "saving a chunk failed; the chunk is lost");
                        return 0;
                    }
                }
            }
            None => chunk,
        };
        self.enqueue(chunk)
    }

    fn enqueue(&self, chunk: Chunk) -> u64 {
        let bytes = chunk.encoded_len();
        let mut dropped = 0;
        {
            let mut g = self.lock();
            g.bytes += bytes;
            g.queue.push_back(Pending {
                seq: chunk.seq,
                chunk,
                bytes,
            });
            while g.bytes > self.max_bytes && g.queue.len() > 1 {
                if let Some(old) = g.queue.pop_front() {
                    if let Some(spool) = &self.spool {
                        spool.remove(old.seq);
                    }
                    g.bytes -= old.bytes;
                    g.dropped += 1;
                    dropped += 1;
                    tracing::warn!(
                        seq = old.seq,
                        buffer_bytes = self.max_bytes,
                        "buffer full: oldest unsent chunk dropped"
                    );
                }
            }
        }
        self.changed.notify_waiters();
        dropped
    }

    /// The first queued chunk with a sequence above `after`, if any.
    pub fn next_after(&self, after: u64) -> Option<Pending> {
        self.lock().queue.iter().find(|p| p.seq > after).cloned()
    }

    /// How many queued chunks have a sequence up to `seq` (sent, unacked).
    pub fn in_flight_through(&self, seq: u64) -> usize {
        self.lock()
            .queue
            .iter()
            .take_while(|p| p.seq <= seq)
            .count()
    }

    /// Waits until something is pushed, acked or the outbox is closed.
    /// Register before checking (see [`Outbox::changed`]).
    pub fn changed(&self) -> tokio::sync::futures::Notified<'_> {
        self.changed.notified()
    }

    /// The server acked `seq`: it (and anything older still queued, which
    /// the in-order stream implies was handled) leaves the buffer.
    pub fn ack(&self, seq: u64, refused: bool) {
        {
            let mut g = self.lock();
            while g.queue.front().is_some_and(|p| p.seq <= seq) {
                if let Some(p) = g.queue.pop_front() {
                    if let Some(spool) = &self.spool {
                        spool.remove(p.seq);
                    }
                    g.bytes -= p.bytes;
                    if p.seq == seq && refused {
                        g.refused += 1;
                    } else {
                        g.delivered += 1;
                    }
                }
            }
        }
        self.changed.notify_waiters();
    }

    /// No more chunks will be pushed.
    pub fn close(&self) {
        self.lock().closed = true;
        self.changed.notify_waiters();
    }

    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }

    pub fn is_empty(&self) -> bool {
        self.lock().queue.is_empty()
    }

    pub fn stats(&self) -> OutboxStats {
        let g = self.lock();
        OutboxStats {
            queued: g.queue.len(),
            queued_bytes: g.bytes,
            dropped: g.dropped,
            delivered: g.delivered,
            refused: g.refused,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunk(seq: u64, payload: usize) -> Chunk {
        Chunk {
            agent_id: "a".into(),
            seq,
            service: "x".repeat(payload),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn keeps_order_and_drops_oldest_over_the_bound() {
        let size = chunk(1, 1000).encoded_len();
        let o = Outbox::new(size * 3);
        for seq in 1..=5 {
            o.push(chunk(seq, 1000)).await;
        }
        let s = o.stats();
        assert_eq!((s.queued, s.dropped), (3, 2));
        assert_eq!(o.next_after(0).map(|p| p.seq), Some(3));
        assert_eq!(o.next_after(3).map(|p| p.seq), Some(4));
        assert_eq!(o.next_after(5).map(|p| p.seq), None);
    }

    #[tokio::test]
    async fn an_ack_removes_that_chunk_and_older_ones() {
        let o = Outbox::new(1 << 20);
        for seq in 1..=4 {
            o.push(chunk(seq, 10)).await;
        }
        o.ack(2, false);
        assert_eq!(o.next_after(0).map(|p| p.seq), Some(3));
        o.ack(3, true);
        let s = o.stats();
        assert_eq!((s.queued, s.delivered, s.refused), (1, 2, 1));
    }

    #[tokio::test]
    async fn a_spooled_chunk_is_on_disk_before_it_can_be_sent() {
        let dir = tempfile::tempdir().unwrap();
        let (spool, _) = Spool::open(dir.path(), "a").unwrap();
        let o = Outbox::with_spool(1 << 20, spool);
        o.push(chunk(7, 10)).await;
        assert_eq!(o.next_after(0).map(|p| p.seq), Some(7));
        assert!(dir.path().join("00000000000000000007.chunk").exists());
        let next = std::fs::read_to_string(dir.path().join("next-seq")).unwrap();
        assert_eq!(next, "8");
    }

    #[tokio::test]
    async fn a_chunk_larger_than_the_bound_is_still_kept_alone() {
        let o = Outbox::new(10);
        o.push(chunk(1, 100)).await;
        o.push(chunk(2, 100)).await;
        assert_eq!(o.stats().queued, 1);
        assert_eq!(o.next_after(0).map(|p| p.seq), Some(2));
    }
}

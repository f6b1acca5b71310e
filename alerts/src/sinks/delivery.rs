//! One worker per sink: a bounded queue, a timeout per attempt, retries
//! with exponential backoff and full jitter, and a dead-letter record
//! after the last attempt (or when the queue is full).

use super::{Retry, SendError, Sink};
use crate::metrics::AlertMetrics;
use crate::notification::Notification;
use crate::store::DeadLetters;
use rand::Rng;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::mpsc;

/// Notifications one sink may have waiting.
pub const QUEUE: usize = 10_000;

/// A sink's queue.
#[derive(Clone)]
pub struct SinkQueue {
    name: String,
    tx: mpsc::Sender<Notification>,
    metrics: Arc<AlertMetrics>,
    dead: Arc<DeadLetters>,
}

impl SinkQueue {
    /// Starts the worker of `sink`; it stops once every queue handle is
    /// dropped and its queue is drained.
    pub fn spawn(
        name: String,
        sink: Arc<dyn Sink>,
        retry: Retry,
        metrics: Arc<AlertMetrics>,
        dead: Arc<DeadLetters>,
    ) -> SinkQueue {
        let (tx, rx) = mpsc::channel(QUEUE);
        tokio::spawn(worker(
            name.clone(),
            sink,
            retry,
            rx,
            metrics.clone(),
            dead.clone(),
        ));
        SinkQueue {
            name,
            tx,
            metrics,
            dead,
        }
    }

    /// Queues `n` without waiting; a full queue dead-letters it.
    pub fn push(&self, n: Notification) {
        if let Err(e) = self.tx.try_send(n) {
            let n = match e {
                mpsc::error::TrySendError::Full(n) | mpsc::error::TrySendError::Closed(n) => n,
            };
            self.metrics
                .notifications_dead
                .fetch_add(1, Ordering::Relaxed);
            tracing::error!(sink = %self.name, rule = %n.rule, "sink queue full, notification dead-lettered");
            self.dead
                .record(&self.name, &n, 0, "the sink's queue is full");
        }
    }
}

/// The delay before attempt `attempt + 1` (after `attempt` failures):
/// a random point in the upper half of `backoff × 2^(attempt-1)`, capped.
pub fn delay(retry: &Retry, attempt: u32) -> Duration {
    let base = retry
        .backoff
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
        .min(retry.max_backoff.max(retry.backoff));
    let half = base / 2;
    let jitter = rand::rng().random_range(0..=half.as_millis().max(1) as u64);
    half + Duration::from_millis(jitter)
}

async fn worker(
    name: String,
    sink: Arc<dyn Sink>,
    retry: Retry,
    mut rx: mpsc::Receiver<Notification>,
    metrics: Arc<AlertMetrics>,
    dead: Arc<DeadLetters>,
) {
    while let Some(n) = rx.recv().await {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = match tokio::time::timeout(retry.timeout, sink.send(&n)).await {
                Ok(r) => r,
                Err(_) => Err(SendError {
                    message: format!("no answer within timeout = {:?}", retry.timeout),
                    retryable: true,
                }),
            };
            match result {
                Ok(()) => {
                    metrics.notifications_sent.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(sink = %name, rule = %n.rule, attempt, "notification delivered");
                    break;
                }
                Err(e) if e.retryable && attempt < retry.attempts => {
                    metrics
                        .notifications_retried
                        .fetch_add(1, Ordering::Relaxed);
                    let wait = delay(&retry, attempt);
                    tracing::warn!(sink = %name, rule = %n.rule, attempt, error = %e, wait_ms = wait.as_millis() as u64, "notification failed, retrying");
                    tokio::time::sleep(wait).await;
                }
                Err(e) => {
                    metrics.notifications_dead.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(sink = %name, rule = %n.rule, attempt, error = %e, "notification dead-lettered");
                    dead.record(&name, &n, attempt, &e.message);
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_a_cap() {
        let r = Retry {
            timeout: Duration::from_secs(1),
            attempts: 10,
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(1000),
        };
        for _ in 0..100 {
            let d1 = delay(&r, 1);
            assert!(
                d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100),
                "{d1:?}"
            );
            let d3 = delay(&r, 3);
            assert!(
                d3 >= Duration::from_millis(200) && d3 <= Duration::from_millis(400),
                "{d3:?}"
            );
            let d9 = delay(&r, 9);
            assert!(
                d9 >= Duration::from_millis(500) && d9 <= Duration::from_millis(1000),
                "{d9:?}"
            );
        }
    }
}

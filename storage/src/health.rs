//! The object store's health as the compactor sees it, and the
//! backpressure that follows from it.
//!
//! ```text
//! compactor run ──▶ ok: healthy, last_ok = now
//!               └─▶ store error: unhealthy, last error kept
//! Engine::write ──▶ backpressure(): windows not yet in the store over
//!                   max_unpersisted_bytes, or the WAL over
//!                   max_wal_disk_bytes ──▶ Error::Backpressure (503)
//! ```
//!
//! While the store is down, writes keep being acknowledged into the WAL
//! and hot windows up to those marks; past them a write is refused with a
//! reason and a retry delay, never dropped.

use crate::engine::Engine;
use crate::error::Error;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// What the last compactor runs said about the store.
#[derive(Debug, Default)]
pub struct StoreHealth {
    unhealthy: AtomicBool,
    /// Store errors in a row.
    pub consecutive_failures: AtomicU64,
    last_error: Mutex<Option<String>>,
    /// Wall time (ns) of the last run that reached the store.
    pub last_ok_ns: AtomicU64,
}

impl StoreHealth {
    pub fn is_healthy(&self) -> bool {
        !self.unhealthy.load(Ordering::Relaxed)
    }

    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(crate) fn ok(&self) {
        if self.unhealthy.swap(false, Ordering::Relaxed) {
            tracing::warn!("object store reachable again; uploading the backlog");
        }
        self.consecutive_failures.store(0, Ordering::Relaxed);
        self.last_ok_ns
            .store(crate::engine::now_ns().max(0) as u64, Ordering::Relaxed);
    }

    /// Notes `e` if it is the store's fault.
    pub(crate) fn failed(&self, e: &Error) {
        if !matches!(e, Error::ObjectStore { .. }) {
            return;
        }
        if !self.unhealthy.swap(true, Ordering::Relaxed) {
            tracing::error!(error = %e, "object store unreachable; acknowledging into the WAL and memory until the high-water marks");
        }
        self.consecutive_failures.fetch_add(1, Ordering::Relaxed);
        *self.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e.to_string());
    }
}

/// Why a write must wait, if it must: data not yet in the store over
/// its high-water mark, in memory or on disk.
pub(crate) fn backpressure(engine: &Engine) -> Option<Error> {
    let cfg = engine.config();
    let unpersisted = engine.hot_usage().bytes;
    if unpersisted > cfg.max_unpersisted_bytes {
        return Some(Error::Backpressure {
            reason: format!(
                "{unpersisted} bytes of profiles wait to be written to the object store, over --max-unpersisted-bytes {}",
                cfg.max_unpersisted_bytes
            ),
            store: engine.store_health().last_error(),
        });
    }
    let wal = engine.stats().wal_disk_bytes.load(Ordering::Relaxed);
    if wal > cfg.max_wal_disk_bytes {
        return Some(Error::Backpressure {
            reason: format!(
                "the write-ahead log holds {wal} bytes, over --max-wal-disk-bytes {}",
                cfg.max_wal_disk_bytes
            ),
            store: engine.store_health().last_error(),
        });
    }
    None
}

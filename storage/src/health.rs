//! The object store's health as the compactor sees it, and the
//! backpressure that follows from it.
//!
//! ```text
//! compactor run ──▶ ok: healthy, last_ok = now
//!               └─▶ store error: unhealthy, last error kept
//! manifest create fails ──▶ unhealthy at once, while the log waits
//!                           for the store to say whether it took
//! Engine::write ──▶ backpressure(): windows not yet in the store over
//!                   max_unpersisted_bytes, or the WAL over
//!                   max_wal_disk_bytes ──▶ Error::Backpressure (503)
//! ```
//!
//! [`FileChecks`] remembers which cold files were found readable (their
//! footer parses, their size matches the manifest) and which not, so a
//! truncated or corrupt object is skipped by queries, with a warning,
//! instead of failing every query that touches it.
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
    let over = |reason: String| {
        Some(Error::Backpressure {
            reason,
            store: engine.store_health().last_error(),
        })
    };
    let unpersisted = engine.hot_usage().bytes;
    if unpersisted > cfg.max_unpersisted_bytes {
        return over(format!(
            "{unpersisted} bytes of profiles wait to be written to the object store, over --max-unpersisted-bytes {}",
            cfg.max_unpersisted_bytes
        ));
    }
    let wal = engine.stats().wal_disk_bytes.load(Ordering::Relaxed);
    if wal > cfg.max_wal_disk_bytes {
        return over(format!(
            "the write-ahead log holds {wal} bytes, over --max-wal-disk-bytes {}",
            cfg.max_wal_disk_bytes
        ));
    }
    None
}
/// Cold files checked so far: readable, or not and why.
#[derive(Debug, Default)]
pub struct FileChecks {
    ok: Mutex<std::collections::HashSet<String>>,
    bad: Mutex<std::collections::BTreeMap<String, String>>,
}

impl FileChecks {
    /// `Some(true)` readable, `Some(false)` not, `None` not checked yet.
    pub fn status(&self, path: &str) -> Option<bool> {
        if self
            .ok
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(path)
        {
            return Some(true);
        }
        self.bad
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(path)
            .then_some(false)
    }

    /// Why `path` cannot be read, if it was found so.
    pub fn why(&self, path: &str) -> Option<String> {
        self.bad
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(path)
            .cloned()
    }

    pub fn mark_ok(&self, path: &str) {
        self.ok
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(path.to_string());
    }

    pub fn mark_bad(&self, path: &str, why: String) {
        tracing::error!(path, reason = %why, "cold file unreadable; queries skip it (see flarego admin verify)");
        self.bad
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(path.to_string(), why);
    }

    /// Every file found unreadable, with why.
    pub fn unreadable(&self) -> Vec<(String, String)> {
        self.bad
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(p, w)| (p.clone(), w.clone()))
            .collect()
    }
}

//! Counters for `/metrics`.

use std::sync::atomic::AtomicU64;

/// What the alert engine has done since start.
#[derive(Debug, Default)]
pub struct AlertMetrics {
    /// Rule evaluations, and those that failed (query error or timeout).
    pub evaluations: AtomicU64,
    pub evaluation_failures: AtomicU64,
    /// Time spent in evaluation rounds, in nanoseconds.
    pub evaluation_ns: AtomicU64,
    /// Queries run (rules sharing a selection share one).
    pub queries: AtomicU64,
    /// Notifications delivered, attempts retried, notifications given up
    /// on (the dead-letter record).
    pub notifications_sent: AtomicU64,
    pub notifications_retried: AtomicU64,
    pub notifications_dead: AtomicU64,
    /// Rule reloads, and reloads refused.
    pub reloads: AtomicU64,
    pub reload_failures: AtomicU64,
    /// Rules loaded now, instances firing now.
    pub rules: AtomicU64,
    pub firing: AtomicU64,
}

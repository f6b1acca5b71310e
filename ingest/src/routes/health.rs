//! `GET /health` (the process answers) and `GET /ready` (WAL replayed;
//! with the object store's health and the backlog waiting for it).

use crate::state::SharedState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;

pub async fn health() -> &'static str {
    "ok"
}

/// 200 once the WAL is replayed, saying what replay found wrong with it:
/// damaged records skipped in the middle of the log (lost, and counted)
/// and the bytes of a torn tail (an unacknowledged write cut short).
pub async fn ready(State(state): State<SharedState>) -> (StatusCode, Json<serde_json::Value>) {
    if let Ok(ready) = state.ready() {
        let s = ready.engine.stats();
        let load = |v: &std::sync::atomic::AtomicU64| v.load(std::sync::atomic::Ordering::Relaxed);
        let corrupt = load(&s.wal_corrupt_records);
        let health = ready.engine.store_health();
        let cfg = ready.engine.config();
        let last_ok_ns = load(&health.last_ok_ns);
        (
            StatusCode::OK,
            Json(json!({
                "ready": true,
                "wal": {
                    "corrupt_regions": load(&s.wal_corrupt_regions),
                    "corrupt_records_lost": corrupt,
                    "corrupt_bytes": load(&s.wal_corrupt_bytes),
                    "torn_tail_bytes": load(&s.wal_torn_tail_bytes),
                    "replay_failures": load(&s.replay_failures),
                },
                "store": {
                    "healthy": health.is_healthy(),
                    "consecutive_failures": load(&health.consecutive_failures),
                    "last_error": health.last_error(),
                    "last_ok_unix_ms": (last_ok_ns > 0).then_some(last_ok_ns / 1_000_000),
                },
                "backlog": {
                    "due_bytes": ready.engine.backlog_bytes(),
                    "unpersisted_bytes": ready.engine.hot_usage().bytes,
                    "max_unpersisted_bytes": cfg.max_unpersisted_bytes,
                    "wal_disk_bytes": load(&s.wal_disk_bytes),
                    "max_wal_disk_bytes": cfg.max_wal_disk_bytes,
                },
                "warnings": warnings(corrupt, health),
            })),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"ready": false, "reason": "replaying the write-ahead log"})),
        )
    }
}

fn warnings(corrupt: u64, health: &flarego_storage::health::StoreHealth) -> Vec<String> {
    let mut w = Vec::new();
    if corrupt > 0 {
        w.push(format!("the write-ahead log was damaged: {corrupt} acknowledged writes could not be replayed (see the log)"));
    }
    if !health.is_healthy() {
        w.push(format!(
            "the object store is unreachable ({}); writes are kept in the WAL and memory until it returns",
            health.last_error().unwrap_or_default()
        ));
    }
    w
}

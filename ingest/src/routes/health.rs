//! `GET /health` (the process answers) and `GET /ready` (WAL replayed).

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
                "warnings": if corrupt > 0 {
                    vec![format!("the write-ahead log was damaged: {corrupt} acknowledged writes could not be replayed (see the log)")]
                } else {
                    Vec::new()
                },
            })),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"ready": false, "reason": "replaying the write-ahead log"})),
        )
    }
}

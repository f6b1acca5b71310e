//! `GET /health` (the process answers) and `GET /ready` (WAL replayed).

use crate::state::SharedState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::json;

pub async fn health() -> &'static str {
    "ok"
}

pub async fn ready(State(state): State<SharedState>) -> (StatusCode, Json<serde_json::Value>) {
    if state.is_ready() {
        (StatusCode::OK, Json(json!({"ready": true})))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"ready": false, "reason": "replaying the write-ahead log"})),
        )
    }
}

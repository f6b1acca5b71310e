//! `POST /api/v1/admin/flush`: persist every hot window to Parquet now.

use crate::error::ApiError;
use crate::state::SharedState;
use axum::Json;
use axum::extract::State;
use flarego_storage::CompactionReport;

pub async fn flush(State(state): State<SharedState>) -> Result<Json<CompactionReport>, ApiError> {
    let ready = state.ready()?;
    Ok(Json(ready.engine.flush().await?))
}

//! `POST /api/v1/admin/flush[?merge=all]`: persist every hot window to
//! Parquet now; with `merge=all`, also merge the small files of every
//! hour (not only of closed hours) into one file per tenant and hour.

use crate::auth::Permission;
use crate::error::ApiError;
use crate::state::SharedState;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Deserialize)]
pub struct FlushParams {
    merge: Option<String>,
}

pub async fn flush(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(p): Query<FlushParams>,
) -> Result<Json<Value>, ApiError> {
    state.auth.authorize(&headers, Permission::Flush)?;
    let ready = state.ready()?;
    let report = ready.engine.flush().await?;
    let mut v = json!(report);
    match p.merge.as_deref() {
        None => {}
        Some("all") => {
            let merged = ready.engine.merge_small_files(true).await?;
            v["merged_groups"] = json!(merged);
        }
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "merge={other:?}: the only value is \"all\""
            )));
        }
    }
    Ok(Json(v))
}

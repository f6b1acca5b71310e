//! `POST /api/v1/query` with `{"sql": "..."}`: JSON rows, or an Arrow IPC
//! stream when the request sends `Accept: application/vnd.apache.arrow.stream`.

use crate::error::ApiError;
use crate::state::{SharedState, tenant_from_headers};
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use flarego_query::output;
use serde::Deserialize;
use std::sync::atomic::Ordering;

pub const ARROW_STREAM: &str = "application/vnd.apache.arrow.stream";

#[derive(Debug, Deserialize)]
pub struct QueryRequest {
    pub sql: String,
}

pub async fn query(
    State(state): State<SharedState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, ApiError> {
    let req: QueryRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::BadRequest(format!("body must be JSON {{\"sql\": \"...\"}}: {e}"))
    })?;
    let ready = state.ready()?;
    // Without auth, X-Scope-OrgID narrows the query to one tenant; absent,
    // the loopback operator sees every tenant.
    let tenant = tenant_from_headers(&headers)?;
    state.counters.queries.fetch_add(1, Ordering::Relaxed);
    let out = match ready.query.sql(tenant, &req.sql).await {
        Ok(o) => o,
        Err(e) => {
            state
                .counters
                .queries_failed
                .fetch_add(1, Ordering::Relaxed);
            return Err(e.into());
        }
    };
    let wants_arrow = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains(ARROW_STREAM));
    if wants_arrow {
        let bytes = output::to_arrow_ipc(&out).map_err(|e| ApiError::Internal(e.to_string()))?;
        return Ok(([(header::CONTENT_TYPE, ARROW_STREAM)], bytes).into_response());
    }
    let json = output::to_json(&out).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(Json(json).into_response())
}

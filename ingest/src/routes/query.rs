//! `POST /api/v1/query` with `{"sql": "..."}`: JSON rows, or an Arrow IPC
//! stream when the request sends `Accept: application/vnd.apache.arrow.stream`.

use crate::auth::Permission;
use crate::error::ApiError;
use crate::state::SharedState;
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
    crate::browser::require_json(&headers)?;
    let req: QueryRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::BadRequest(format!("body must be JSON {{\"sql\": \"...\"}}: {e}"))
    })?;
    let principal = state.auth.authorize(&headers, Permission::Query)?;
    let ready = state.ready()?;
    // A reader sees its token's tenant only. An admin (or anyone with auth
    // off, on loopback) sees every tenant, or the one X-Scope-OrgID names.
    let tenant = principal.read_scope(&headers)?;
    let _slot = state.limiter.query(&principal)?;
    state.counters.queries.fetch_add(1, Ordering::Relaxed);
    let limit = state.query_timeout;
    let run = tokio::time::timeout(limit, ready.query.sql(tenant, &req.sql));
    let answer = run.await.unwrap_or_else(|_| {
        Err(flarego_query::Error::ResourcesExhausted(format!(
            "the query ran longer than the limit query_timeout = {}",
            humanize(limit)
        )))
    });
    let out = match answer {
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

fn humanize(d: std::time::Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

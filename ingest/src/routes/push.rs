//! `POST /push.v1.PusherService/Push`: Pyroscope's push API as a Connect
//! unary call (`application/proto` or `application/json`, optionally
//! `Content-Encoding: gzip`). Errors use Connect's JSON error form.

use super::{commit, now_ns, read_body};
use crate::decode::push::{admit_push_json, push_from_json};
use crate::error::ApiError;
use crate::record::{IngestRecord, Source};
use crate::state::SharedState;
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use prost::Message as _;
use serde_json::json;

pub async fn push(State(state): State<SharedState>, headers: HeaderMap, body: Body) -> Response {
    let json_codec = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    match handle(&state, &headers, body, json_codec).await {
        Ok(()) if json_codec => (StatusCode::OK, Json(json!({}))).into_response(),
        Ok(()) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/proto")],
            Vec::<u8>::new(),
        )
            .into_response(),
        Err(e) => super::connect::error(e),
    }
}

async fn handle(
    state: &SharedState,
    headers: &HeaderMap,
    body: Body,
    json_codec: bool,
) -> Result<(), ApiError> {
    let principal = state.admit_ingest(headers)?;
    let tenant = principal.tenant.clone();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/proto");
    if !json_codec
        && !content_type.starts_with("application/proto")
        && !content_type.starts_with("application/x-protobuf")
    {
        return Err(ApiError::UnsupportedMediaType(format!(
            "Content-Type {content_type:?} is not application/proto or application/json"
        )));
    }
    let mut charge = state.memory_charge();
    let body = read_body(state, &principal, headers, body, &mut charge).await?;
    let proto = if json_codec {
        admit_push_json(&body, &mut charge)?;
        push_from_json(&body)?.encode_to_vec()
    } else {
        // The WAL keeps the bytes as sent; `commit` counts them on the wire
        // and decodes them (refusing a body that is not a PushRequest).
        body.to_vec()
    };
    let record = IngestRecord {
        tenant,
        received_ns: now_ns(),
        source: Source::Push,
        parts: vec![proto],
    };
    commit(state, record, &mut charge).await?;
    Ok(())
}

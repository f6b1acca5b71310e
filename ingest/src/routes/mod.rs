//! HTTP handlers, one module per resource, and the helpers they share.

pub mod admin;
pub mod agent_ws;
pub mod alerts;
pub mod api_ingest;
pub mod connect;
pub mod health;
pub mod legacy_ingest;
pub mod metrics;
pub mod otlp;
pub mod push;
pub mod pyroscope;
pub mod query;
pub mod read;

use crate::auth::Principal;
use crate::decode::budget::MemoryCharge;
use crate::decode::gzip::gunzip;
use crate::decode::{DecodeError, DecodeResult};
use crate::error::ApiError;
use crate::record::IngestRecord;
use crate::state::AppState;
use axum::body::{Body, Bytes};
use axum::http::HeaderMap;
use flarego_storage::{Lsn, blocking};
use std::sync::atomic::Ordering;

/// Reads the body, refusing more than `max_body_bytes`, charges its size
/// to the caller's ingest rate and to the request's memory, and inflates
/// it when sent with `Content-Encoding: gzip`.
pub async fn read_body(
    state: &AppState,
    principal: &Principal,
    headers: &HeaderMap,
    body: Body,
    charge: &mut MemoryCharge,
) -> Result<Bytes, ApiError> {
    let bytes = read_limited(state, body).await?;
    state.limiter.ingest_bytes(principal, bytes.len())?;
    inflate(state, headers, bytes, charge)
}

/// Reads the body, refusing more than `max_body_bytes`.
pub async fn read_limited(state: &AppState, body: Body) -> Result<Bytes, ApiError> {
    let limit = state.limits.max_body_bytes;
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let too_large = std::iter::successors(Some(&e as &dyn std::error::Error), |s| s.source())
            .any(|s| s.is::<http_body_util::LengthLimitError>());
        if crate::body_deadline::is_timeout(&e) {
            ApiError::RequestTimeout(e.to_string())
        } else if too_large {
            ApiError::PayloadTooLarge(format!(
                "request body is over the limit max_body_bytes = {limit} bytes"
            ))
        } else {
            ApiError::BadRequest(format!("cannot read request body: {e}"))
        }
    })
}

/// `bytes` charged to the request's memory and inflated (within the
/// limits) when sent with `Content-Encoding: gzip`.
pub fn inflate(
    state: &AppState,
    headers: &HeaderMap,
    bytes: Bytes,
    charge: &mut MemoryCharge,
) -> Result<Bytes, ApiError> {
    charge.charge("request body", bytes.len())?;
    let gzipped = headers
        .get(axum::http::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("gzip"));
    if gzipped {
        let inflated = blocking(|| gunzip(&bytes, "request body", &state.limits, charge))?;
        return Ok(Bytes::from(inflated));
    }
    Ok(bytes)
}

/// Validates and decodes `record` (charging `charge`), logs it in the
/// WAL and applies it. Returns the LSN and the number of sample rows
/// written.
pub async fn commit(
    state: &AppState,
    record: IngestRecord,
    charge: &mut MemoryCharge,
) -> Result<(Lsn, usize), ApiError> {
    let ready = state.ready()?;
    let c = &state.counters;
    c.ingest_requests.fetch_add(1, Ordering::Relaxed);
    let decoded = blocking(|| record.decode(ready.engine.stacks(), &state.limits, charge));
    let batch = match decoded {
        Ok(b) => b,
        Err(e) => {
            c.ingest_rejected.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(error = %e, tenant = %record.tenant, "ingest refused");
            return Err(e.into());
        }
    };
    let rows = batch.sample_rows();
    let payload = record.encode();
    c.ingest_bytes
        .fetch_add(payload.len() as u64, Ordering::Relaxed);
    let lsn = ready.engine.write(payload, batch).await?;
    c.ingest_rows.fetch_add(rows as u64, Ordering::Relaxed);
    Ok((lsn, rows))
}

/// Now, in ns since the epoch.
pub fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)
}

/// A Unix time in s, ms, µs or ns (told apart by magnitude), as ns.
pub fn parse_unix_time(param: &str, raw: &str) -> DecodeResult<i64> {
    let bad = |reason: &str| DecodeError::BadParam {
        param: param.to_string(),
        reason: reason.to_string(),
    };
    let v: i64 = raw
        .trim()
        .parse()
        .map_err(|_| bad(&format!("{raw:?} is not a Unix timestamp")))?;
    if v < 0 {
        return Err(bad("must not be negative"));
    }
    let ns = if v >= 100_000_000_000_000_000 {
        Some(v)
    } else if v >= 100_000_000_000_000 {
        v.checked_mul(1_000)
    } else if v >= 100_000_000_000 {
        v.checked_mul(1_000_000)
    } else {
        v.checked_mul(1_000_000_000)
    };
    ns.ok_or_else(|| bad("out of range"))
}

/// Takes the instance out of a label set: `instance`, else `hostname`.
pub fn split_instance(labels: &mut std::collections::BTreeMap<String, String>) -> String {
    labels
        .remove("instance")
        .or_else(|| labels.remove("hostname"))
        .unwrap_or_default()
}

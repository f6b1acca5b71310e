//! Shared server state: the engine (once the WAL is replayed), limits and
//! request counters.

use crate::error::ApiError;
use crate::limits::Limits;
use axum::http::HeaderMap;
use flarego_query::QueryEngine;
use flarego_storage::{Engine, TenantId};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};

/// Everything a handler needs.
pub struct AppState {
    ready: OnceLock<Ready>,
    pub limits: Limits,
    pub counters: Counters,
}

/// Set once the WAL is replayed.
pub struct Ready {
    pub engine: Engine,
    pub query: QueryEngine,
}

/// Request counters for `/metrics`.
#[derive(Debug, Default)]
pub struct Counters {
    pub ingest_requests: AtomicU64,
    pub ingest_rejected: AtomicU64,
    pub ingest_rows: AtomicU64,
    pub ingest_bytes: AtomicU64,
    pub queries: AtomicU64,
    pub queries_failed: AtomicU64,
    /// Agent chunks received (gRPC and WebSocket), and how many were resends.
    pub agent_chunks: AtomicU64,
    pub agent_duplicates: AtomicU64,
    pub agent_streams: AtomicU64,
}

pub type SharedState = Arc<AppState>;

impl AppState {
    pub fn new(limits: Limits) -> Self {
        AppState {
            ready: OnceLock::new(),
            limits,
            counters: Counters::default(),
        }
    }

    pub fn set_ready(&self, ready: Ready) {
        let _ = self.ready.set(ready);
    }

    pub fn ready(&self) -> Result<&Ready, ApiError> {
        self.ready.get().ok_or(ApiError::NotReady)
    }

    pub fn is_ready(&self) -> bool {
        self.ready.get().is_some()
    }
}

/// The header Pyroscope clients use to name a tenant.
pub const TENANT_HEADER: &str = "x-scope-orgid";

/// The tenant named by `X-Scope-OrgID`, if any, validated.
pub fn tenant_from_headers(headers: &HeaderMap) -> Result<Option<TenantId>, ApiError> {
    let Some(v) = headers.get(TENANT_HEADER) else {
        return Ok(None);
    };
    let s = v
        .to_str()
        .map_err(|_| ApiError::BadRequest("X-Scope-OrgID is not valid ASCII".into()))?;
    let ok = !s.is_empty()
        && s.len() <= 128
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
        && s != "."
        && s != "..";
    if !ok {
        return Err(ApiError::BadRequest(format!(
            "X-Scope-OrgID {s:?} is not a valid tenant: use 1-128 characters of [A-Za-z0-9_.-]"
        )));
    }
    Ok(Some(TenantId(s.to_string())))
}

/// The tenant a write goes to: the header's, else `default`.
pub fn write_tenant(headers: &HeaderMap) -> Result<TenantId, ApiError> {
    Ok(tenant_from_headers(headers)?.unwrap_or_else(TenantId::default_tenant))
}

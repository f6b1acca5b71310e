//! Shared server state: the engine (once the WAL is replayed), limits and
//! request counters.

use crate::auth::{AuthConfig, Permission, Principal};
use crate::decode::budget::{IngestMemory, MemoryCharge};
use crate::error::ApiError;
use crate::limits::Limits;
use crate::listen::ConnCounters;
use crate::ratelimit::{Limiter, RateLimits};
use axum::http::HeaderMap;
use flarego_query::QueryEngine;
use flarego_storage::{Engine, TenantId};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};

/// Everything a handler needs.
pub struct AppState {
    ready: OnceLock<Ready>,
    pub limits: Limits,
    pub auth: AuthConfig,
    pub limiter: Limiter,
    /// Longest a query may run.
    pub query_timeout: std::time::Duration,
    pub counters: Counters,
    /// Memory held by requests being decoded (`ingest_memory_bytes`).
    pub ingest_memory: Arc<IngestMemory>,
    /// Connections of each listener.
    pub http_conns: Arc<ConnCounters>,
    pub grpc_conns: Arc<ConnCounters>,
    /// Live-tail subscriptions allowed at once.
    pub max_live_subscribers: usize,
}

/// Set once the WAL is replayed.
pub struct Ready {
    pub engine: Engine,
    pub query: QueryEngine,
    pub alerts: flarego_alerts::AlertEngine,
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
    /// Live-tail subscribers connected now, updates sent, and writes
    /// subscribers missed because they fell behind.
    pub live_subscribers: AtomicU64,
    pub live_updates: AtomicU64,
    pub live_missed: AtomicU64,
}

pub type SharedState = Arc<AppState>;

impl AppState {
    pub fn new(limits: Limits, auth: AuthConfig, rate_limits: RateLimits) -> Self {
        AppState {
            ready: OnceLock::new(),
            auth,
            limiter: Limiter::new(rate_limits),
            query_timeout: std::time::Duration::from_secs(60),
            counters: Counters::default(),
            ingest_memory: IngestMemory::new(limits.ingest_memory_bytes),
            http_conns: Arc::default(),
            grpc_conns: Arc::default(),
            max_live_subscribers: 10_000,
            limits,
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

    /// A new request's memory charge, within `max_request_memory_bytes`
    /// and drawn from the shared `ingest_memory_bytes`.
    pub fn memory_charge(&self) -> MemoryCharge {
        MemoryCharge::new(
            self.limits.max_request_memory_bytes,
            Some(self.ingest_memory.clone()),
        )
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
    if !valid_tenant(s) {
        return Err(ApiError::BadRequest(format!(
            "X-Scope-OrgID {s:?} is not a valid tenant: use 1-128 characters of [A-Za-z0-9_.-]"
        )));
    }
    Ok(Some(TenantId(s.to_string())))
}

/// Whether `s` may name a tenant: 1-128 characters of `[A-Za-z0-9_.-]`,
/// not `.` or `..` (it becomes a directory name).
pub fn valid_tenant(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
        && s != "."
        && s != ".."
}

impl AppState {
    /// Authenticates an ingest request and charges it to the rate limits:
    /// its tenant is the token's (with auth off, `X-Scope-OrgID`, else
    /// `default`), whatever the request says otherwise.
    pub fn admit_ingest(&self, headers: &HeaderMap) -> Result<Principal, ApiError> {
        let p = self.auth.authorize(headers, Permission::Ingest)?;
        self.limiter.ingest_request(&p)?;
        Ok(p)
    }
}

//! The read API's HTTP side: thin handlers that turn parameters into a
//! [`Selection`] and answers into (gzipped, when accepted) JSON. The logic
//! is in `flarego_query::read`.
//!
//! Every endpoint reads through the query layer with the caller's tenant
//! scope, charged to the same query rate, concurrency and time limits as
//! `/api/v1/query`.

pub mod browse;
pub mod export;
pub mod flamegraph;
pub mod live;
pub mod snapshots;
pub mod timeline;
pub mod top;

use crate::auth::{Permission, Principal};
use crate::error::ApiError;
use crate::ratelimit::QuerySlot;
use crate::state::{AppState, Ready, SharedState};
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use flarego_query::read::{ReadError, Selection};
use flarego_storage::TenantId;
use std::collections::BTreeMap;
use std::io::Write;

/// The read API's routes.
pub fn routes() -> Router<SharedState> {
    Router::new()
        .route("/api/v1/flamegraph", get(flamegraph::flamegraph))
        .route("/api/v1/diff", get(flamegraph::diff))
        .route("/api/v1/sandwich", get(flamegraph::sandwich))
        .route("/api/v1/top", get(top::top))
        .route("/api/v1/timeline", get(timeline::timeline))
        .route("/api/v1/metrics/series", get(timeline::metric_series))
        .route("/api/v1/services", browse_route("services"))
        .route("/api/v1/profile_types", browse_route("profile_types"))
        .route("/api/v1/metric_names", browse_route("metric_names"))
        .route("/api/v1/labels", browse_route("labels"))
        .route("/api/v1/label_values", browse_route("label_values"))
        .route("/api/v1/live", get(live::live))
        .route("/api/v1/export", get(export::export))
        .route("/api/v1/import", post(snapshots::import))
        .route("/api/v1/snapshots", get(snapshots::list))
        .route(
            "/api/v1/snapshots/{id}",
            get(snapshots::get).delete(snapshots::delete),
        )
}

/// `GET` of one listing of [`browse`].
fn browse_route(what: &'static str) -> axum::routing::MethodRouter<SharedState> {
    get(
        move |State(state): State<SharedState>,
              headers: HeaderMap,
              Query(params): Query<Params>| async move {
            browse::listing(&state, &headers, &params, what).await
        },
    )
}

/// Query parameters, as sent.
pub type Params = BTreeMap<String, String>;

/// What every read handler starts from.
pub struct ReadCtx<'a> {
    pub ready: &'a Ready,
    pub scope: Option<TenantId>,
    pub principal: Principal,
    _slot: QuerySlot,
}

/// Authorizes a read, takes a query slot, and resolves the tenant scope
/// (an admin may name one with `tenant=`).
pub fn begin<'a>(
    state: &'a AppState,
    headers: &HeaderMap,
    params: &Params,
) -> Result<ReadCtx<'a>, ApiError> {
    begin_as(state, headers, params, Permission::Query)
}

/// [`begin`] for a request that needs permission `need`.
pub fn begin_as<'a>(
    state: &'a AppState,
    headers: &HeaderMap,
    params: &Params,
    need: Permission,
) -> Result<ReadCtx<'a>, ApiError> {
    let principal = state.auth.authorize(headers, need)?;
    let ready = state.ready()?;
    let scope = scope_of(&principal, headers, params)?;
    let slot = state.limiter.query(&principal)?;
    state
        .counters
        .queries
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Ok(ReadCtx {
        ready,
        scope,
        principal,
        _slot: slot,
    })
}

/// The tenants a read sees: the caller's own, or for an admin every
/// tenant or the one named by `tenant=` (or `X-Scope-OrgID`).
pub fn scope_of(
    principal: &Principal,
    headers: &HeaderMap,
    params: &Params,
) -> Result<Option<TenantId>, ApiError> {
    let Some(t) = params.get("tenant") else {
        return principal.read_scope(headers);
    };
    if !principal.all_tenants {
        return Err(ApiError::Forbidden(
            "only an admin may name a tenant: this token reads its own".into(),
        ));
    }
    if !crate::state::valid_tenant(t) {
        return Err(ApiError::BadRequest(format!(
            "tenant {t:?} is not a valid tenant name"
        )));
    }
    Ok(Some(TenantId(t.clone())))
}

/// The selection of `params` (with names prefixed by `prefix`).
pub fn selection(params: &Params, prefix: &str) -> Result<Selection, ApiError> {
    Selection::parse(params, prefix, super::now_ns()).map_err(read_error)
}

/// A read failure as an API error.
pub fn read_error(e: ReadError) -> ApiError {
    match e {
        ReadError::BadParam { .. } => ApiError::BadRequest(e.to_string()),
        ReadError::Query(q) => q.into(),
    }
}

impl From<ReadError> for ApiError {
    fn from(e: ReadError) -> Self {
        read_error(e)
    }
}

/// Runs `fut` within the query time limit.
pub async fn timed<T, E: Into<ApiError>>(
    state: &AppState,
    fut: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, ApiError> {
    let limit = state.query_timeout;
    match tokio::time::timeout(limit, fut).await {
        Ok(r) => r.map_err(|e| {
            state
                .counters
                .queries_failed
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            e.into()
        }),
        Err(_) => {
            state
                .counters
                .queries_failed
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Err(ApiError::TooManyRequests(format!(
                "query exceeded a limit: the query ran longer than the limit query_timeout = {}",
                humantime::format_duration(limit)
            )))
        }
    }
}

/// `value` as JSON, gzipped when the client accepts it.
pub fn json(headers: &HeaderMap, value: &impl serde::Serialize) -> Result<Response, ApiError> {
    let body = serde_json::to_vec(value).map_err(|e| ApiError::Internal(e.to_string()))?;
    let gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));
    let ct = (
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if !gzip || body.len() < 1024 {
        return Ok(([ct], body).into_response());
    }
    let mut e = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4),
        flate2::Compression::fast(),
    );
    e.write_all(&body)
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let gz = e.finish().map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok((
        [
            ct,
            (header::CONTENT_ENCODING, HeaderValue::from_static("gzip")),
        ],
        gz,
    )
        .into_response())
}

/// `result` as the response: JSON (gzipped when accepted) or the error.
pub fn respond<T: serde::Serialize>(
    headers: &HeaderMap,
    result: Result<T, ApiError>,
) -> Result<Response, ApiError> {
    json(headers, &result?)
}

/// An optional numeric parameter.
pub fn number<T: std::str::FromStr>(params: &Params, name: &str) -> Result<Option<T>, ApiError> {
    params
        .get(name)
        .map(|v| {
            v.parse().map_err(|_| {
                ApiError::BadRequest(format!(
                    "invalid parameter {name}: {v:?} is not a whole number"
                ))
            })
        })
        .transpose()
}

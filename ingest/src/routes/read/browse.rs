//! Label browsing: `GET /api/v1/services`, `/profile_types`,
//! `/metric_names`, `/labels` and `/label_values?name=`, each taking the
//! selection's `from`, `to`, `service`, `query` and `profile_type` (only
//! when given), plus `prefix` and `limit`.

use super::{Params, begin, json, number, selection, timed};
use crate::error::ApiError;
use crate::state::SharedState;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use flarego_query::read::browse::{BrowseRequest, DEFAULT_LIMIT, Listing};

/// Values one listing returns at most.
const MAX_LIMIT: usize = 100_000;

pub async fn services(
    s: State<SharedState>,
    h: HeaderMap,
    q: Query<Params>,
) -> Result<Response, ApiError> {
    browse(s, h, q, |_| Ok(Listing::Services)).await
}

pub async fn profile_types(
    s: State<SharedState>,
    h: HeaderMap,
    q: Query<Params>,
) -> Result<Response, ApiError> {
    browse(s, h, q, |_| Ok(Listing::ProfileTypes)).await
}

pub async fn metric_names(
    s: State<SharedState>,
    h: HeaderMap,
    q: Query<Params>,
) -> Result<Response, ApiError> {
    browse(s, h, q, |_| Ok(Listing::MetricNames)).await
}

pub async fn labels(
    s: State<SharedState>,
    h: HeaderMap,
    q: Query<Params>,
) -> Result<Response, ApiError> {
    browse(s, h, q, |_| Ok(Listing::Labels)).await
}

pub async fn label_values(
    s: State<SharedState>,
    h: HeaderMap,
    q: Query<Params>,
) -> Result<Response, ApiError> {
    browse(s, h, q, |p| match p.get("name").filter(|n| !n.is_empty()) {
        Some(n) => Ok(Listing::LabelValues(n.clone())),
        None => Err(ApiError::BadRequest(
            "invalid parameter name: the label whose values to list is required".into(),
        )),
    })
    .await
}

async fn browse(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(params): Query<Params>,
    listing: impl FnOnce(&Params) -> Result<Listing, ApiError>,
) -> Result<Response, ApiError> {
    let listing = listing(&params)?;
    let limit: usize = number(&params, "limit")?.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "invalid parameter limit: {limit} is outside 1..={MAX_LIMIT}"
        )));
    }
    let sel = selection(&params, "")?;
    let req = BrowseRequest {
        listing,
        from_ns: sel.from_ns,
        to_ns: sel.to_ns,
        matchers: sel.matchers,
        profile_type: params.get("profile_type").map(|_| sel.profile_type),
        prefix: params.get("prefix").cloned().unwrap_or_default(),
        limit,
    };
    let ctx = begin(&state, &headers, &params)?;
    let b = timed(&state, ctx.ready.query.browse(ctx.scope.clone(), &req)).await?;
    json(&headers, &b)
}

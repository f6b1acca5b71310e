//! `GET /api/v1/timeline` (profile values per step) and
//! `GET /api/v1/metrics/series?name=…` (a metric per step).

use super::{Params, begin, number, respond, selection, timed};
use crate::error::ApiError;
use crate::state::{AppState, SharedState};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use flarego_query::read::timeline::{Agg, GroupBy, Timeline};

/// Series shown before the rest is summed into one.
const DEFAULT_SERIES: usize = 50;

pub async fn timeline(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Result<Response, ApiError> {
    respond(&headers, timeline_of(&state, &headers, &params).await)
}

pub async fn timeline_of(
    state: &AppState,
    headers: &HeaderMap,
    params: &Params,
) -> Result<Timeline, ApiError> {
    let group =
        GroupBy::parse(params.get("group_by").map(String::as_str)).map_err(super::read_error)?;
    let limit = number(params, "limit")?.unwrap_or(DEFAULT_SERIES);
    let sel = selection(params, "")?;
    let ctx = begin(state, headers, params)?;
    let step = params.get("step").map(String::as_str);
    let q = &ctx.ready.query;
    timed(
        state,
        q.timeline(ctx.scope.clone(), &sel, step, &group, limit),
    )
    .await
}

pub async fn metric_series(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Result<Response, ApiError> {
    respond(&headers, metric_series_of(&state, &headers, &params).await)
}

pub async fn metric_series_of(
    state: &AppState,
    headers: &HeaderMap,
    params: &Params,
) -> Result<Timeline, ApiError> {
    let name = params
        .get("name")
        .ok_or_else(|| {
            ApiError::BadRequest("invalid parameter name: required (a metric name)".into())
        })?
        .clone();
    let group =
        GroupBy::parse(params.get("group_by").map(String::as_str)).map_err(super::read_error)?;
    let agg = Agg::parse(params.get("agg").map(String::as_str)).map_err(super::read_error)?;
    let limit = number(params, "limit")?.unwrap_or(DEFAULT_SERIES);
    let sel = selection(params, "")?;
    let ctx = begin(state, headers, params)?;
    let step = params.get("step").map(String::as_str);
    let q = &ctx.ready.query;
    timed(
        state,
        q.metric_series(ctx.scope.clone(), &sel, &name, step, &group, agg, limit),
    )
    .await
}

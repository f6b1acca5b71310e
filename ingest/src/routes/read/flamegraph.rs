//! The tree endpoints: `GET /api/v1/flamegraph` (one merged tree of the
//! selection, columnar in pre-order), `GET /api/v1/diff` (a `base_` and a
//! `comp_` selection in one tree; `normalize=true` scales the comparison
//! to the base total) and `GET /api/v1/sandwich?function=` (callers and
//! callees of one function). `max_nodes` prunes into `other` nodes (none
//! by default).

use super::{Params, begin, number, respond, selection, timed};
use crate::error::ApiError;
use crate::state::{AppState, SharedState};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use flarego_query::read::diff::Diff;
use flarego_query::read::flame::FlameGraph;
use flarego_query::read::sandwich::Sandwich;

/// The largest `max_nodes` accepted.
pub const MAX_NODES_LIMIT: usize = 1 << 24;

/// The `max_nodes` parameter, checked.
fn max_nodes(params: &Params) -> Result<Option<usize>, ApiError> {
    let max_nodes: Option<usize> = number(params, "max_nodes")?;
    if let Some(n) = max_nodes
        && !(1..=MAX_NODES_LIMIT).contains(&n)
    {
        return Err(ApiError::BadRequest(format!(
            "invalid parameter max_nodes: {n} is not between 1 and {MAX_NODES_LIMIT}"
        )));
    }
    Ok(max_nodes)
}

pub async fn flamegraph(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Result<Response, ApiError> {
    respond(&headers, flamegraph_of(&state, &headers, &params).await)
}

pub async fn flamegraph_of(
    state: &AppState,
    headers: &HeaderMap,
    params: &Params,
) -> Result<FlameGraph, ApiError> {
    let max_nodes = max_nodes(params)?;
    let sel = selection(params, "")?;
    let ctx = begin(state, headers, params)?;
    let q = &ctx.ready.query;
    timed(state, q.flamegraph(ctx.scope.clone(), &sel, max_nodes)).await
}

pub async fn diff(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Result<Response, ApiError> {
    respond(&headers, diff_of(&state, &headers, &params).await)
}

pub async fn diff_of(
    state: &AppState,
    headers: &HeaderMap,
    params: &Params,
) -> Result<Diff, ApiError> {
    let max_nodes = max_nodes(params)?;
    let normalize = match params.get("normalize").map(String::as_str) {
        None | Some("false") | Some("0") => false,
        Some("true") | Some("1") => true,
        Some(o) => {
            return Err(ApiError::BadRequest(format!(
                "invalid parameter normalize: {o:?} is not true or false"
            )));
        }
    };
    let base = selection(params, "base_")?;
    let comp = selection(params, "comp_")?;
    if base.profile_type != comp.profile_type {
        return Err(ApiError::BadRequest(format!(
            "invalid parameter comp_profile_type: {} cannot be compared with {}",
            comp.profile_type, base.profile_type
        )));
    }
    let ctx = begin(state, headers, params)?;
    let q = &ctx.ready.query;
    timed(
        state,
        q.diff(ctx.scope.clone(), &base, &comp, normalize, max_nodes),
    )
    .await
}

pub async fn sandwich(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Result<Response, ApiError> {
    respond(&headers, sandwich_of(&state, &headers, &params).await)
}

pub async fn sandwich_of(
    state: &AppState,
    headers: &HeaderMap,
    params: &Params,
) -> Result<Sandwich, ApiError> {
    let max_nodes = max_nodes(params)?;
    let Some(function) = params.get("function").filter(|f| !f.is_empty()) else {
        return Err(ApiError::BadRequest(
            "invalid parameter function: the function to center on is required".into(),
        ));
    };
    let sel = selection(params, "")?;
    let ctx = begin(state, headers, params)?;
    let q = &ctx.ready.query;
    timed(
        state,
        q.sandwich(ctx.scope.clone(), &sel, function, max_nodes),
    )
    .await
}

//! `GET /api/v1/top`: per function, self and total with their share.

use super::{Params, begin, number, respond, selection, timed};
use crate::error::ApiError;
use crate::state::{AppState, SharedState};
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use flarego_query::read::top::{SortBy, Top};

pub async fn top(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Result<Response, ApiError> {
    respond(&headers, top_of(&state, &headers, &params).await)
}

pub async fn top_of(
    state: &AppState,
    headers: &HeaderMap,
    params: &Params,
) -> Result<Top, ApiError> {
    let sort = match params.get("sort") {
        Some(s) => SortBy::parse(s).map_err(super::read_error)?,
        None => SortBy::SelfValue,
    };
    let limit: Option<usize> = number(params, "limit")?;
    let sel = selection(params, "")?;
    let ctx = begin(state, headers, params)?;
    let q = &ctx.ready.query;
    timed(state, q.top(ctx.scope.clone(), &sel, sort, limit)).await
}

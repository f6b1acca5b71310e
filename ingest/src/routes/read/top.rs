//! `GET /api/v1/top`: per function, self and total with their share.

use super::{Params, begin, json, number, selection, timed};
use crate::error::ApiError;
use crate::state::SharedState;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use flarego_query::read::top::SortBy;

pub async fn top(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Result<Response, ApiError> {
    let sort = match params.get("sort") {
        Some(s) => SortBy::parse(s).map_err(super::read_error)?,
        None => SortBy::SelfValue,
    };
    let limit: Option<usize> = number(&params, "limit")?;
    let sel = selection(&params, "")?;
    let ctx = begin(&state, &headers, &params)?;
    let t = timed(
        &state,
        ctx.ready.query.top(ctx.scope.clone(), &sel, sort, limit),
    )
    .await?;
    json(&headers, &t)
}

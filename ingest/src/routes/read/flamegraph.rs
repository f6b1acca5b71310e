//! `GET /api/v1/flamegraph`: one merged tree of the selection, columnar
//! in pre-order; `max_nodes` prunes into `other` nodes (none by default).

use super::{Params, begin, json, number, selection, timed};
use crate::error::ApiError;
use crate::state::SharedState;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;

/// The largest `max_nodes` accepted.
pub const MAX_NODES_LIMIT: usize = 1 << 24;

pub async fn flamegraph(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Result<Response, ApiError> {
    let max_nodes: Option<usize> = number(&params, "max_nodes")?;
    if let Some(n) = max_nodes
        && !(1..=MAX_NODES_LIMIT).contains(&n)
    {
        return Err(ApiError::BadRequest(format!(
            "invalid parameter max_nodes: {n} is not between 1 and {MAX_NODES_LIMIT}"
        )));
    }
    let sel = selection(&params, "")?;
    let ctx = begin(&state, &headers, &params)?;
    let fg = timed(
        &state,
        ctx.ready
            .query
            .flamegraph(ctx.scope.clone(), &sel, max_nodes),
    )
    .await?;
    json(&headers, &fg)
}

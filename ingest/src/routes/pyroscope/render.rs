//! Pyroscope's legacy HTTP reads: `GET /pyroscope/render`,
//! `/pyroscope/render-diff` and `/pyroscope/label-values`. Errors are
//! Connect's JSON form, as Pyroscope answers them.

use crate::error::ApiError;
use crate::routes::connect;
use crate::routes::read::{Params, begin, json, timed};
use crate::state::SharedState;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use flarego_query::pyroscope::browse::{self, Selectors};
use flarego_query::pyroscope::render::{parse_max_nodes, parse_query};
use flarego_query::read::ReadError;

fn answer(headers: &HeaderMap, r: Result<impl serde::Serialize, ApiError>) -> Response {
    match r.and_then(|v| json(headers, &v)) {
        Ok(r) => r,
        Err(e) => connect::error(e),
    }
}

/// `query`, `from`, `until`, `max-nodes`, `groupBy` (the first one).
pub async fn render(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let run = async {
        let group_by = params
            .iter()
            .find(|(k, _)| k == "groupBy")
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty());
        let params: Params = params.into_iter().collect();
        if let Some(f) = params.get("format").filter(|f| *f != "json") {
            return Err(ApiError::NotImplemented(format!(
                "format={f} is not served: use format=json"
            )));
        }
        let now = crate::routes::now_ns();
        let q = parse_query(&params, ["query", "from", "until"], now)?;
        let max_nodes = parse_max_nodes(&params)?;
        let ctx = begin(&state, &headers, &Params::new())?;
        let engine = &ctx.ready.query;
        timed(
            &state,
            engine.render(ctx.scope.clone(), &q, max_nodes, group_by.as_deref()),
        )
        .await
    };
    answer(&headers, run.await)
}

/// `leftQuery`, `leftFrom`, `leftUntil`, and the same for `right`.
pub async fn render_diff(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Response {
    let run = async {
        let now = crate::routes::now_ns();
        let left = parse_query(&params, ["leftQuery", "leftFrom", "leftUntil"], now)?;
        let right = parse_query(&params, ["rightQuery", "rightFrom", "rightUntil"], now)?;
        let max_nodes = parse_max_nodes(&params)?;
        let ctx = begin(&state, &headers, &Params::new())?;
        let engine = &ctx.ready.query;
        timed(
            &state,
            engine.render_diff(ctx.scope.clone(), &left, &right, max_nodes),
        )
        .await
    };
    answer(&headers, run.await)
}

/// `label=__name__` lists the profile type ids; any other label its
/// values (over the last hour, or `from`/`until`).
pub async fn label_values(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Response {
    let run = async {
        let Some(label) = params.get("label").filter(|l| !l.is_empty()) else {
            return Err(ReadError::param("label", "the label to list is required").into());
        };
        let now = crate::routes::now_ns();
        let parse = |name: &str, default: i64| match params.get(name) {
            Some(v) => flarego_query::read::time::parse_time(name, v, now),
            None => Ok(default),
        };
        let to_ns = parse("until", now)?;
        let from_ns = parse("from", to_ns - 3_600_000_000_000)?;
        let ctx = begin(&state, &headers, &Params::new())?;
        let engine = &ctx.ready.query;
        let series = timed(
            &state,
            engine.pyroscope_series(
                ctx.scope.clone(),
                &Selectors::parse("query", &[])?,
                from_ns,
                to_ns,
            ),
        )
        .await?;
        Ok(match label.as_str() {
            "__name__" => browse::profile_types(&series)
                .into_iter()
                .map(|t| t.id)
                .collect(),
            l => browse::label_values(&series, l),
        })
    };
    answer(&headers, run.await)
}

//! Pyroscope's read API, for Grafana's Pyroscope data source, profilecli
//! and Pyroscope's UI: the `querier.v1.QuerierService` and
//! `settings.v1.SettingsService` methods as Connect unary calls
//! ([`querier`]), and the legacy `GET /pyroscope/render`,
//! `/pyroscope/render-diff` and `/pyroscope/label-values` ([`render`]).
//!
//! Thin handlers: each reads the request, authorizes it as a read (the
//! same permission, tenant scope, query slot and time limit as
//! `/api/v1/query`) and calls `flarego_query::pyroscope`.

pub mod querier;
pub mod render;

use super::connect::{self, Codec};
use super::read::{Params, begin, timed};
use super::{inflate, read_limited};
use crate::error::ApiError;
use crate::state::{AppState, SharedState};
use axum::Router;
use axum::body::Body;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use flarego_query::QueryEngine;
use flarego_query::pyroscope::select::SelectError;
use flarego_storage::TenantId;

/// The routes.
pub fn routes() -> Router<SharedState> {
    let m = |name: &str| format!("/querier.v1.QuerierService/{name}");
    Router::new()
        .route(&m("ProfileTypes"), post(querier::profile_types))
        .route(&m("LabelNames"), post(querier::label_names))
        .route(&m("LabelValues"), post(querier::label_values))
        .route(&m("Series"), post(querier::series))
        .route(
            &m("SelectMergeStacktraces"),
            post(querier::select_merge_stacktraces),
        )
        .route(
            &m("SelectMergeSpanProfile"),
            post(querier::select_merge_span_profile),
        )
        .route(
            &m("SelectMergeProfile"),
            post(querier::select_merge_profile),
        )
        .route(&m("SelectSeries"), post(querier::select_series))
        .route(&m("Diff"), post(querier::diff))
        .route("/settings.v1.SettingsService/Get", post(querier::settings))
        .route("/pyroscope/render", get(render::render))
        .route("/pyroscope/render-diff", get(render::render_diff))
        .route("/pyroscope/label-values", get(render::label_values))
}

impl From<SelectError> for ApiError {
    fn from(e: SelectError) -> Self {
        match e {
            SelectError::Read(e) => e.into(),
            SelectError::Unsupported(u) => ApiError::NotImplemented(u.0),
        }
    }
}

/// One Connect unary call: the request message decoded in its codec,
/// `call` run as a read within the query time limit, the answer in the
/// same codec (or Connect's error).
pub async fn unary<Req, Resp, E, Fut>(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    call: impl FnOnce(QueryEngine, Option<TenantId>, Req) -> Fut,
) -> Response
where
    Req: prost::Message + Default + serde::de::DeserializeOwned,
    Resp: prost::Message + serde::Serialize,
    E: Into<ApiError>,
    Fut: std::future::Future<Output = Result<Resp, E>>,
{
    let codec = match Codec::of(headers) {
        Ok(c) => c,
        Err(e) => return connect::error(e),
    };
    let answer = async {
        let ctx = begin(state, headers, &Params::new())?;
        let raw = read_limited(state, body).await?;
        let mut charge = state.memory_charge();
        let raw = inflate(state, headers, raw, &mut charge)?;
        let req: Req = codec.decode(&raw)?;
        drop(charge);
        timed(state, call(ctx.ready.query.clone(), ctx.scope.clone(), req)).await
    };
    match answer.await {
        Ok(m) => codec.reply(headers, &m),
        Err(e) => connect::error(e),
    }
}

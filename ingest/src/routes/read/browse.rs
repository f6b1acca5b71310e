//! Label browsing: `GET /api/v1/services`, `/profile_types`,
//! `/metric_names`, `/labels` and `/label_values?name=`, each taking the
//! selection's `from`, `to`, `service`, `query` and `profile_type` (only
//! when given), plus `prefix` and `limit`.

use super::{Params, begin, number, respond, selection, timed};
use crate::error::ApiError;
use crate::state::{AppState, SharedState};
use axum::http::HeaderMap;
use axum::response::Response;
use flarego_query::read::browse::{Browse, BrowseRequest, DEFAULT_LIMIT, Listing};

/// Values one listing returns at most.
const MAX_LIMIT: usize = 100_000;

/// `GET /api/v1/<what>`: one listing (see [`browse_of`]).
pub async fn listing(
    state: &SharedState,
    headers: &HeaderMap,
    params: &Params,
    what: &str,
) -> Result<Response, ApiError> {
    respond(headers, browse_of(state, headers, params, what).await)
}

/// The listing `what` (`services`, `profile_types`, `metric_names`,
/// `labels`, `label_values`).
pub async fn browse_of(
    state: &AppState,
    headers: &HeaderMap,
    params: &Params,
    what: &str,
) -> Result<Browse, ApiError> {
    let listing = match what {
        "services" => Listing::Services,
        "profile_types" => Listing::ProfileTypes,
        "metric_names" => Listing::MetricNames,
        "labels" => Listing::Labels,
        "label_values" => match params.get("name").filter(|n| !n.is_empty()) {
            Some(n) => Listing::LabelValues(n.clone()),
            None => {
                return Err(ApiError::BadRequest(
                    "invalid parameter name: the label whose values to list is required".into(),
                ));
            }
        },
        other => {
            return Err(ApiError::BadRequest(format!(
                "invalid listing {other:?}: use services, profile_types, metric_names, labels or label_values"
            )));
        }
    };
    let limit: usize = number(params, "limit")?.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::BadRequest(format!(
            "invalid parameter limit: {limit} is outside 1..={MAX_LIMIT}"
        )));
    }
    let sel = selection(params, "")?;
    let req = BrowseRequest {
        listing,
        from_ns: sel.from_ns,
        to_ns: sel.to_ns,
        matchers: sel.matchers,
        profile_type: params.get("profile_type").map(|_| sel.profile_type),
        prefix: params.get("prefix").cloned().unwrap_or_default(),
        limit,
    };
    let ctx = begin(state, headers, params)?;
    timed(state, ctx.ready.query.browse(ctx.scope.clone(), &req)).await
}

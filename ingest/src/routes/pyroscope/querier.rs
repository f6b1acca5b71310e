//! `querier.v1.QuerierService` and `settings.v1.SettingsService/Get`.
//!
//! The browsing methods (`ProfileTypes`, `LabelNames`, `LabelValues`,
//! `Series`) read the last hour when the request names no range; the
//! Select… methods and `Diff` require one.

use super::unary;
use crate::state::SharedState;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use flarego_proto::querier::v1 as q;
use flarego_proto::settings::v1 as settings_v1;
use flarego_proto::types::v1 as t;
use flarego_query::QueryEngine;
use flarego_query::pyroscope::browse::{self, PyroscopeLabels, Selectors};
use flarego_query::pyroscope::request::range_ns;
use flarego_query::read::ReadError;
use flarego_storage::TenantId;

/// The labels of the series in a browsing request's range.
async fn series_of(
    q: &QueryEngine,
    scope: Option<TenantId>,
    matchers: &[String],
    start: i64,
    end: i64,
) -> Result<Vec<PyroscopeLabels>, ReadError> {
    let (from_ns, to_ns) = if start <= 0 && end <= 0 {
        let now = crate::routes::now_ns();
        (now - 3_600_000_000_000, now)
    } else {
        range_ns(start, end)?
    };
    let selectors = Selectors::parse("matchers", matchers)?;
    q.pyroscope_series(scope, &selectors, from_ns, to_ns).await
}

pub async fn profile_types(
    State(state): State<SharedState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    unary(
        &state,
        &headers,
        body,
        |q, scope, r: q::ProfileTypesRequest| async move {
            let series = series_of(&q, scope, &[], r.start, r.end).await?;
            Ok::<_, ReadError>(q::ProfileTypesResponse {
                profile_types: browse::profile_types(&series),
            })
        },
    )
    .await
}

pub async fn label_names(
    State(state): State<SharedState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    unary(
        &state,
        &headers,
        body,
        |q, scope, r: t::LabelNamesRequest| async move {
            let series = series_of(&q, scope, &r.matchers, r.start, r.end).await?;
            Ok::<_, ReadError>(t::LabelNamesResponse {
                names: browse::label_names(&series),
            })
        },
    )
    .await
}

pub async fn label_values(
    State(state): State<SharedState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    unary(
        &state,
        &headers,
        body,
        |q, scope, r: t::LabelValuesRequest| async move {
            if r.name.is_empty() {
                return Err(ReadError::param("name", "the label to list is required"));
            }
            let series = series_of(&q, scope, &r.matchers, r.start, r.end).await?;
            Ok(t::LabelValuesResponse {
                names: browse::label_values(&series, &r.name),
            })
        },
    )
    .await
}

pub async fn series(State(state): State<SharedState>, headers: HeaderMap, body: Body) -> Response {
    unary(
        &state,
        &headers,
        body,
        |q, scope, r: q::SeriesRequest| async move {
            let series = series_of(&q, scope, &r.matchers, r.start, r.end).await?;
            Ok::<_, ReadError>(q::SeriesResponse {
                labels_set: browse::label_sets(&series, &r.label_names)
                    .into_iter()
                    .map(|labels| t::Labels { labels })
                    .collect(),
            })
        },
    )
    .await
}

/// A handler answering with `QueryEngine::$method(scope, &request)`.
macro_rules! select_handler {
    ($name:ident, $request:ty, $method:ident) => {
        pub async fn $name(
            State(state): State<SharedState>,
            headers: HeaderMap,
            body: Body,
        ) -> Response {
            unary(&state, &headers, body, |q, scope, r: $request| async move {
                q.$method(scope, &r).await
            })
            .await
        }
    };
}

select_handler!(
    select_merge_stacktraces,
    q::SelectMergeStacktracesRequest,
    select_merge_stacktraces
);
select_handler!(
    select_merge_span_profile,
    q::SelectMergeSpanProfileRequest,
    select_merge_span_profile
);
select_handler!(
    select_merge_profile,
    q::SelectMergeProfileRequest,
    select_merge_profile
);
select_handler!(select_series, q::SelectSeriesRequest, select_series);
select_handler!(diff, q::DiffRequest, pyroscope_diff);

/// `settings.v1.SettingsService/Get`: no stored settings (clients use
/// their defaults).
pub async fn settings(
    State(state): State<SharedState>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    unary(
        &state,
        &headers,
        body,
        |_, _, _: settings_v1::GetSettingsRequest| async move {
            Ok::<_, ReadError>(settings_v1::GetSettingsResponse {
                settings: Vec::new(),
            })
        },
    )
    .await
}

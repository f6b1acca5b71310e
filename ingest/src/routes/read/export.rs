//! `GET /api/v1/export?format=pprof|folded|fgo&<selection>`: the
//! selection as a file to download.

use super::{Params, begin_as, selection, timed};
use crate::auth::Permission;
use crate::error::ApiError;
use crate::state::SharedState;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use flarego_query::read::export::Format;

pub async fn export(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Result<Response, ApiError> {
    let format = match params.get("format") {
        Some(f) => Format::parse(f).map_err(super::read_error)?,
        None => Format::Pprof,
    };
    let sel = selection(&params, "")?;
    let ctx = begin_as(&state, &headers, &params, Permission::Export)?;
    let bytes = timed(
        &state,
        ctx.ready.query.export(ctx.scope.clone(), &sel, format),
    )
    .await?;
    let name = format!(
        "{}-{}.{}",
        sel.profile_type,
        sel.from_ns / 1_000_000_000,
        format.extension()
    );
    Ok(download(format, &name, bytes))
}

/// A file download response.
pub fn download(format: Format, name: &str, bytes: Vec<u8>) -> Response {
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{name}\""))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"));
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(format.content_type()),
            ),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        bytes,
    )
        .into_response()
}

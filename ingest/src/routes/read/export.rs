//! `GET /api/v1/export?format=pprof|folded|fgo&<selection>`: the
//! selection as a file to download.

use super::{Params, begin_as, selection, timed};
use crate::auth::Permission;
use crate::error::ApiError;
use crate::state::{AppState, SharedState};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use flarego_query::read::export::Format;

/// An exported file.
pub struct Exported {
    pub format: Format,
    pub file_name: String,
    pub bytes: Vec<u8>,
}

pub async fn export(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Result<Response, ApiError> {
    let e = export_of(&state, &headers, &params).await?;
    Ok(download(e.format, &e.file_name, e.bytes))
}

pub async fn export_of(
    state: &AppState,
    headers: &HeaderMap,
    params: &Params,
) -> Result<Exported, ApiError> {
    let format = match params.get("format") {
        Some(f) => Format::parse(f).map_err(super::read_error)?,
        None => Format::Pprof,
    };
    let sel = selection(params, "")?;
    let ctx = begin_as(state, headers, params, Permission::Export)?;
    let bytes = timed(
        state,
        ctx.ready.query.export(ctx.scope.clone(), &sel, format),
    )
    .await?;
    let file_name = format!(
        "{}-{}.{}",
        sel.profile_type,
        sel.from_ns / 1_000_000_000,
        format.extension()
    );
    Ok(Exported {
        format,
        file_name,
        bytes,
    })
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

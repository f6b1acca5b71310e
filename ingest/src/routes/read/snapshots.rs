//! Snapshots: `POST /api/v1/import` (an `.fgo` or pprof body, optionally
//! `?name=`, and for pprof `profile_type=`, `kind=block|mutex`) answers
//! `{"id": …}`; `GET /api/v1/snapshots` lists the tenant's;
//! `GET /api/v1/snapshots/{id}` serves one back as stored (JSON), or as
//! a download with `?format=fgo|pprof|folded`; `DELETE` is for admins.

use super::export::download;
use super::{Params, begin, begin_as};
use crate::auth::Permission;
use crate::decode::import::{ImportOptions, import as decode_import};
use crate::error::ApiError;
use crate::routes::read_body;
use crate::state::SharedState;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use flarego_query::read::export::{Format, encode_snapshot, fgo::Fgo};
use flarego_query::snapshots::{SnapshotError, Snapshots};
use flarego_storage::blocking;
use serde_json::json;

/// Longest snapshot name.
const MAX_NAME: usize = 200;

fn snapshots(state: &crate::state::AppState) -> Result<Snapshots, ApiError> {
    Ok(Snapshots::new(state.ready()?.engine.store().clone()))
}

fn snapshot_error(e: SnapshotError) -> ApiError {
    match e {
        SnapshotError::NotFound(_) => ApiError::NotFound(e.to_string()),
        SnapshotError::BadId(_) => ApiError::BadRequest(e.to_string()),
        SnapshotError::Store(_) | SnapshotError::Damaged { .. } => {
            ApiError::Internal(e.to_string())
        }
    }
}

pub async fn import(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(params): Query<Params>,
    body: Body,
) -> Result<Response, ApiError> {
    let ctx = begin_as(&state, &headers, &params, Permission::Import)?;
    let name = params.get("name").cloned().unwrap_or_default();
    if name.len() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(ApiError::BadRequest(format!(
            "invalid parameter name: at most {MAX_NAME} bytes, no control characters"
        )));
    }
    let opts = ImportOptions {
        profile_type: params.get("profile_type").cloned(),
        kind: params.get("kind").cloned(),
    };
    let mut charge = state.memory_charge();
    let body = read_body(&state, &ctx.principal, &headers, body, &mut charge).await?;
    let limits = &state.limits;
    let imported = blocking(|| decode_import(&body, &opts, limits, &mut charge))?;
    let tenant = ctx
        .scope
        .clone()
        .unwrap_or_else(|| ctx.principal.tenant.clone());
    let meta = snapshots(&state)?
        .save(&tenant, &name, &imported.doc, &imported.json)
        .await
        .map_err(snapshot_error)?;
    tracing::info!(id = %meta.id, tenant = %tenant.as_str(), bytes = meta.bytes, source = %meta.source, "snapshot imported");
    Ok(Json(json!({ "id": meta.id, "snapshot": meta })).into_response())
}

pub async fn list(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(params): Query<Params>,
) -> Result<Response, ApiError> {
    let ctx = begin(&state, &headers, &params)?;
    let list = snapshots(&state)?
        .list(ctx.scope.as_ref())
        .await
        .map_err(snapshot_error)?;
    Ok(Json(json!({ "snapshots": list })).into_response())
}

pub async fn get(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Query<Params>,
) -> Result<Response, ApiError> {
    let format = params
        .get("format")
        .map(|f| Format::parse(f).map_err(super::read_error))
        .transpose()?;
    let need = if format.is_some() {
        Permission::Export
    } else {
        Permission::Query
    };
    let ctx = begin_as(&state, &headers, &params, need)?;
    let (meta, json) = snapshots(&state)?
        .get(ctx.scope.as_ref(), &id)
        .await
        .map_err(snapshot_error)?;
    let Some(format) = format else {
        let ct = (
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        return Ok(([ct], json).into_response());
    };
    let doc = Fgo::parse(&json).map_err(|e| ApiError::Internal(format!("snapshot {id}: {e}")))?;
    let bytes = blocking(|| encode_snapshot(format, &doc, &json));
    let stem = if meta.name.is_empty() {
        meta.id.clone()
    } else {
        sanitize(&meta.name)
    };
    Ok(download(
        format,
        &format!("{stem}.{}", format.extension()),
        bytes,
    ))
}

pub async fn delete(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(params): Query<Params>,
) -> Result<Response, ApiError> {
    let ctx = begin_as(&state, &headers, &params, Permission::Import)?;
    if !ctx.principal.all_tenants {
        return Err(ApiError::Forbidden(
            "only an admin may delete snapshots".into(),
        ));
    }
    snapshots(&state)?
        .delete(ctx.scope.as_ref(), &id)
        .await
        .map_err(snapshot_error)?;
    Ok(Json(json!({ "deleted": id })).into_response())
}

/// A file name made of a snapshot's name.
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

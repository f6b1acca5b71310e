//! Alerts over HTTP (logic in `flarego_alerts`):
//!
//! - `GET /api/v1/alerts`: live instances (pending and firing) the caller
//!   may see (`query` permission).
//! - `GET /api/v1/alerts/rules`: rules, the SQL each runs, and health.
//! - `PUT /api/v1/alerts/rules` (`Content-Type: application/toml`, a rule
//!   file): replaces the caller's tenant's API rules; a file that does not
//!   load is refused with 400 naming the rule, line and reason.
//! - `DELETE /api/v1/alerts/rules[?name=RULE]`: one API rule, or all.
//!
//! Changing rules needs the `alerts` permission (admins).

use crate::auth::Permission;
use crate::error::ApiError;
use crate::state::SharedState;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::routing::get;
use axum::{Json, Router};
use flarego_alerts::AlertError;
use serde::Deserialize;
use serde_json::{Value, json};

pub fn routes() -> Router<SharedState> {
    Router::new().route("/api/v1/alerts", get(instances)).route(
        "/api/v1/alerts/rules",
        get(rules).put(put_rules).delete(delete_rules),
    )
}

fn refused(e: AlertError) -> ApiError {
    match e {
        AlertError::Refused(_) | AlertError::Rules { .. } => ApiError::BadRequest(e.to_string()),
        AlertError::NotFound(m) => ApiError::NotFound(m),
        AlertError::Io { .. } => ApiError::Internal(e.to_string()),
    }
}

async fn instances(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let principal = state.auth.authorize(&headers, Permission::Query)?;
    let tenant = principal.read_scope(&headers)?;
    let ready = state.ready()?;
    Ok(Json(
        json!({ "alerts": ready.alerts.instances(tenant.as_ref()) }),
    ))
}

async fn rules(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let principal = state.auth.authorize(&headers, Permission::Alerts)?;
    let tenant = principal.read_scope(&headers)?;
    let ready = state.ready()?;
    Ok(Json(
        json!({ "rules": ready.alerts.rules(tenant.as_ref()) }),
    ))
}

async fn put_rules(
    State(state): State<SharedState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = ct.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case("application/toml") {
        return Err(ApiError::UnsupportedMediaType(format!(
            "Content-Type must be application/toml (a rule file), not {ct:?}"
        )));
    }
    let principal = state.auth.authorize(&headers, Permission::Alerts)?;
    let ready = state.ready()?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::BadRequest("the rule file is not UTF-8".into()))?;
    let n = ready
        .alerts
        .put_rules(&principal.tenant, text)
        .await
        .map_err(refused)?;
    Ok(Json(json!({ "tenant": principal.tenant.0, "rules": n })))
}

#[derive(Debug, Deserialize)]
struct DeleteParams {
    name: Option<String>,
}

async fn delete_rules(
    State(state): State<SharedState>,
    headers: HeaderMap,
    Query(p): Query<DeleteParams>,
) -> Result<Json<Value>, ApiError> {
    let principal = state.auth.authorize(&headers, Permission::Alerts)?;
    let ready = state.ready()?;
    let n = ready
        .alerts
        .delete_rules(&principal.tenant, p.name.as_deref())
        .await
        .map_err(refused)?;
    Ok(Json(json!({ "tenant": principal.tenant.0, "deleted": n })))
}

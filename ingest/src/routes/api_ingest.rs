//! `POST /api/v1/ingest?service=&instance=&type=&time=&<label>=<value>...`:
//! a plain (or gzipped) pprof body; every other query parameter is a label.

use super::{commit, now_ns, parse_unix_time, read_body};
use crate::decode::DecodeError;
use crate::decode::labels::{check_label, check_label_count, check_value};
use crate::error::ApiError;
use crate::record::{IngestRecord, Source};
use crate::state::SharedState;
use axum::Json;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};

pub async fn ingest(
    State(state): State<SharedState>,
    Query(mut params): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Value>, ApiError> {
    let principal = state.admit_ingest(&headers)?;
    let tenant = principal.tenant.clone();
    let limits = &state.limits;
    let service = params
        .remove("service")
        .ok_or_else(|| DecodeError::BadParam {
            param: "service".into(),
            reason: "required".into(),
        })?;
    if service.is_empty() {
        return Err(DecodeError::BadParam {
            param: "service".into(),
            reason: "must not be empty".into(),
        }
        .into());
    }
    check_value("service", &service, limits)?;
    let instance = params.remove("instance").unwrap_or_default();
    check_value("instance", &instance, limits)?;
    let hint = params.remove("type").unwrap_or_default();
    let time_ns = params
        .remove("time")
        .map(|t| parse_unix_time("time", &t))
        .transpose()?;
    let mut labels = BTreeMap::new();
    for (k, v) in params {
        check_label(&k, &v, limits)?;
        labels.insert(k, v);
    }
    check_label_count(&labels, limits)?;
    let mut charge = state.memory_charge();
    let body = read_body(&state, &principal, &headers, body, &mut charge).await?;
    let record = IngestRecord {
        tenant,
        received_ns: now_ns(),
        source: Source::Pprof {
            service,
            instance,
            labels,
            hint,
            time_ns,
            renames: HashMap::new(),
        },
        parts: vec![body.to_vec()],
    };
    let (lsn, rows) = commit(&state, record, &mut charge).await?;
    Ok(Json(json!({"rows": rows, "lsn": lsn.0})))
}

//! `POST /ingest`: Pyroscope's legacy ingest API.
//!
//! `?name=APP.TYPE{k=v,...}&from=&until=&format=pprof|folded|lines&sampleRate=&spyName=&units=&aggregationType=`
//! with a raw or gzipped pprof body, a multipart form (`profile`,
//! optional `prev_profile` and `sample_type_config`) as the Pyroscope SDKs
//! send it, or folded lines.

use super::{commit, now_ns, parse_unix_time, read_body, split_instance};
use crate::decode::DecodeError;
use crate::decode::gzip::is_gzip;
use crate::decode::labels::parse_app_name;
use crate::decode::types::{folded_type, is_known_suffix};
use crate::error::ApiError;
use crate::record::{IngestRecord, Source};
use crate::state::SharedState;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use serde::Deserialize;
use std::collections::HashMap;

#[derive(Debug, Deserialize)]
pub struct LegacyParams {
    name: Option<String>,
    from: Option<String>,
    until: Option<String>,
    format: Option<String>,
    #[serde(rename = "sampleRate")]
    sample_rate: Option<String>,
    #[serde(rename = "spyName")]
    _spy_name: Option<String>,
    units: Option<String>,
    #[serde(rename = "aggregationType")]
    _aggregation_type: Option<String>,
}

pub async fn ingest(
    State(state): State<SharedState>,
    Query(p): Query<LegacyParams>,
    headers: HeaderMap,
    body: Body,
) -> Result<(), ApiError> {
    let principal = state.admit_ingest(&headers)?;
    let tenant = principal.tenant.clone();
    let limits = &state.limits;
    let raw_name = p.name.as_deref().ok_or_else(|| DecodeError::BadParam {
        param: "name".into(),
        reason: "required (APP.TYPE{k=v,...})".into(),
    })?;
    let app = parse_app_name(raw_name, limits)?;
    let from = p
        .from
        .as_deref()
        .map(|v| parse_unix_time("from", v))
        .transpose()?;
    let until = p
        .until
        .as_deref()
        .map(|v| parse_unix_time("until", v))
        .transpose()?;
    if let (Some(f), Some(u)) = (from, until)
        && f > u
    {
        return Err(DecodeError::BadParam {
            param: "from".into(),
            reason: format!("from ({f} ns) is after until ({u} ns)"),
        }
        .into());
    }
    let suffix = app
        .suffix()
        .filter(|s| is_known_suffix(s))
        .map(str::to_string);
    let service = match &suffix {
        Some(s) => app.name[..app.name.len() - s.len() - 1].to_string(),
        None => app.name.clone(),
    };
    let mut labels = app.labels.clone();
    let instance = split_instance(&mut labels);

    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let mut charge = state.memory_charge();
    let body = read_body(&state, &principal, &headers, body, &mut charge).await?;
    let multipart = content_type.starts_with("multipart/form-data");
    let format = match p.format.as_deref() {
        Some("pprof") => Format::Pprof,
        Some("folded") | Some("lines") | Some("trie") if !multipart => Format::Folded,
        Some("jfr") => {
            return Err(ApiError::UnsupportedMediaType(
                "format=jfr is not supported; send pprof or folded".into(),
            ));
        }
        Some(other) if !multipart => {
            return Err(DecodeError::BadParam {
                param: "format".into(),
                reason: format!("{other:?} is not one of pprof, folded, lines"),
            }
            .into());
        }
        _ if multipart || is_gzip(&body) || looks_binary(&body) => Format::Pprof,
        _ => Format::Folded,
    };

    let record = match format {
        Format::Pprof => {
            let (profile, prev, renames) = if multipart {
                parse_multipart(&content_type, body).await?
            } else {
                (body.to_vec(), Vec::new(), HashMap::new())
            };
            IngestRecord {
                tenant,
                received_ns: now_ns(),
                source: Source::Pprof {
                    service,
                    instance,
                    labels,
                    hint: suffix.unwrap_or_default(),
                    time_ns: from,
                    renames,
                },
                parts: vec![profile, prev],
            }
        }
        Format::Folded => {
            let (profile_type, unit, is_cpu) = folded_type(suffix.as_deref(), p.units.as_deref());
            let rate: i64 = match p.sample_rate.as_deref() {
                None | Some("") => 100,
                Some(r) => r
                    .parse()
                    .ok()
                    .filter(|r| (1..=1_000_000_000).contains(r))
                    .ok_or_else(|| DecodeError::BadParam {
                        param: "sampleRate".into(),
                        reason: format!("{r:?} is not an integer in 1..=1000000000"),
                    })?,
            };
            IngestRecord {
                tenant,
                received_ns: now_ns(),
                source: Source::Folded {
                    service,
                    instance,
                    labels,
                    profile_type,
                    unit,
                    scale: if is_cpu { 1_000_000_000 / rate } else { 1 },
                    time_ns: from,
                },
                parts: vec![body.to_vec()],
            }
        }
    };
    commit(&state, record, &mut charge).await?;
    Ok(())
}

enum Format {
    Pprof,
    Folded,
}

/// Folded text is printable; pprof protobuf is not.
fn looks_binary(b: &[u8]) -> bool {
    b.iter()
        .take(64)
        .any(|c| *c < 0x09 || (*c > 0x0d && *c < 0x20))
}

/// `(profile, prev_profile, sample type renames)` from a multipart body.
pub async fn parse_multipart(
    content_type: &str,
    body: Bytes,
) -> Result<(Vec<u8>, Vec<u8>, HashMap<String, String>), ApiError> {
    let boundary = multer::parse_boundary(content_type)
        .map_err(|e| ApiError::BadRequest(format!("bad multipart Content-Type: {e}")))?;
    let stream = futures::stream::once(async move { Ok::<Bytes, std::convert::Infallible>(body) });
    let mut mp = multer::Multipart::new(stream, boundary);
    let (mut profile, mut prev, mut renames) = (None, Vec::new(), HashMap::new());
    while let Some(field) = mp
        .next_field()
        .await
        .map_err(|e| ApiError::BadRequest(format!("malformed multipart body: {e}")))?
    {
        let name = field.name().unwrap_or("").to_string();
        let data = field
            .bytes()
            .await
            .map_err(|e| ApiError::BadRequest(format!("malformed multipart part {name:?}: {e}")))?;
        match name.as_str() {
            "profile" => profile = Some(data.to_vec()),
            "prev_profile" => prev = data.to_vec(),
            "sample_type_config" => renames = sample_type_renames(&data)?,
            _ => {}
        }
    }
    let profile = profile
        .ok_or_else(|| ApiError::BadRequest("multipart body has no \"profile\" part".into()))?;
    Ok((profile, prev, renames))
}

/// Renames from `sample_type_config`: `{"inuse_space": {"display-name": "..."}}`.
fn sample_type_renames(data: &[u8]) -> Result<HashMap<String, String>, ApiError> {
    let v: HashMap<String, serde_json::Value> = serde_json::from_slice(data).map_err(|e| {
        ApiError::BadRequest(format!("sample_type_config is not a JSON object: {e}"))
    })?;
    Ok(v.into_iter()
        .filter_map(|(k, cfg)| {
            cfg.get("display-name")
                .and_then(|d| d.as_str())
                .filter(|d| !d.is_empty() && *d != k)
                .map(|d| (k, d.to_string()))
        })
        .collect())
}

//! `POST /v1development/profiles`: OTLP profiles over HTTP, as the
//! OpenTelemetry Collector and eBPF profiler send them — protobuf
//! (`application/x-protobuf`) or JSON (`application/json`, OTLP's JSON
//! with trace, span and profile ids in hex), optionally gzipped. The
//! request is acknowledged once it is in the WAL. Errors are a
//! `google.rpc.Status` in the request's encoding, with the HTTP status
//! of the refusal.

use super::{commit, now_ns, read_body};
use crate::decode::otlp::admit_otlp;
use crate::error::ApiError;
use crate::record::{IngestRecord, Source};
use crate::state::SharedState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use flarego_proto::opentelemetry::proto::collector::profiles::v1development::{
    ExportProfilesServiceRequest, ExportProfilesServiceResponse,
};
use prost::Message;
use serde_json::Value;

/// `google.rpc.Status`, the body of an OTLP/HTTP error.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

#[derive(Clone, Copy, PartialEq)]
enum Encoding {
    Protobuf,
    Json,
}

impl Encoding {
    fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Encoding::Protobuf => "application/x-protobuf",
            Encoding::Json => "application/json",
        })
    }
}

pub async fn export(State(state): State<SharedState>, headers: HeaderMap, body: Body) -> Response {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let encoding = match ct.split(';').next().unwrap_or("").trim() {
        "application/x-protobuf" | "application/protobuf" => Encoding::Protobuf,
        "application/json" => Encoding::Json,
        _ => {
            let e = ApiError::UnsupportedMediaType(format!(
                "Content-Type {ct:?}: OTLP/HTTP takes application/x-protobuf or application/json"
            ));
            return error(e, Encoding::Protobuf);
        }
    };
    match handle(&state, &headers, body, encoding).await {
        Ok(()) => {
            let reply = ExportProfilesServiceResponse::default();
            let body = match encoding {
                Encoding::Protobuf => reply.encode_to_vec(),
                Encoding::Json => b"{}".to_vec(),
            };
            ([(header::CONTENT_TYPE, encoding.content_type())], body).into_response()
        }
        Err(e) => error(e, encoding),
    }
}

async fn handle(
    state: &SharedState,
    headers: &HeaderMap,
    body: Body,
    encoding: Encoding,
) -> Result<(), ApiError> {
    let principal = state.admit_ingest(headers)?;
    let mut charge = state.memory_charge();
    let body = read_body(state, &principal, headers, body, &mut charge).await?;
    let proto = match encoding {
        Encoding::Protobuf => body.to_vec(),
        Encoding::Json => {
            admit_otlp(&body, &mut charge)?;
            from_json(&body)?.encode_to_vec()
        }
    };
    let record = IngestRecord {
        tenant: principal.tenant.clone(),
        received_ns: now_ns(),
        source: Source::Otlp,
        parts: vec![proto],
    };
    commit(state, record, &mut charge).await?;
    Ok(())
}

/// OTLP's JSON: protobuf JSON, except that trace, span and profile ids
/// are hex rather than base64.
pub fn from_json(body: &[u8]) -> Result<ExportProfilesServiceRequest, ApiError> {
    let bad = |reason: String| ApiError::BadRequest(format!("OTLP profiles (JSON): {reason}"));
    let mut v: Value = serde_json::from_slice(body).map_err(|e| bad(e.to_string()))?;
    let links = v.get_mut("dictionary").and_then(|d| d.get_mut("linkTable"));
    if let Some(Value::Array(links)) = links {
        for (i, link) in links.iter_mut().enumerate() {
            for field in ["traceId", "spanId"] {
                hex_to_base64(link, field)
                    .map_err(|e| bad(format!("linkTable[{i}].{field}: {e}")))?;
            }
        }
    }
    if let Some(Value::Array(resources)) = v.get_mut("resourceProfiles") {
        for r in resources {
            let Some(Value::Array(scopes)) = r.get_mut("scopeProfiles") else {
                continue;
            };
            for s in scopes {
                let Some(Value::Array(profiles)) = s.get_mut("profiles") else {
                    continue;
                };
                for p in profiles {
                    hex_to_base64(p, "profileId").map_err(|e| bad(format!("profileId: {e}")))?;
                }
            }
        }
    }
    serde_json::from_value(v).map_err(|e| bad(e.to_string()))
}

/// Rewrites `obj[field]` from hex to base64 (what protobuf JSON reads).
fn hex_to_base64(obj: &mut Value, field: &str) -> Result<(), String> {
    let Some(Value::String(h)) = obj.get(field) else {
        return Ok(());
    };
    if h.len() % 2 != 0 {
        return Err(format!("{h:?} is not hex"));
    }
    let bytes = (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(h.get(i..i + 2).unwrap_or("zz"), 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| format!("{h:?} is not hex"))?;
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
    obj[field] = Value::String(b64);
    Ok(())
}

/// gRPC's code for an error (what `google.rpc.Status` carries).
fn rpc_code(e: &ApiError) -> i32 {
    match e {
        ApiError::BadRequest(_) | ApiError::UnsupportedMediaType(_) => 3,
        ApiError::RequestTimeout(_) => 4,
        ApiError::NotFound(_) => 5,
        ApiError::Forbidden(_) => 7,
        ApiError::PayloadTooLarge(_)
        | ApiError::TooManyRequests(_)
        | ApiError::RateLimited { .. } => 8,
        ApiError::NotImplemented(_) => 12,
        ApiError::Internal(_) => 13,
        ApiError::NotReady | ApiError::Unavailable { .. } => 14,
        ApiError::Unauthorized => 16,
    }
}

fn error(e: ApiError, encoding: Encoding) -> Response {
    if let ApiError::Internal(detail) = &e {
        tracing::error!(error = %detail, "OTLP export failed");
    }
    let status = RpcStatus {
        code: rpc_code(&e),
        message: e.public_message(),
    };
    let body = match encoding {
        Encoding::Protobuf => status.encode_to_vec(),
        Encoding::Json => serde_json::to_vec(&serde_json::json!({
            "code": status.code,
            "message": status.message,
        }))
        .unwrap_or_default(),
    };
    let mut r = (
        e.status(),
        [(header::CONTENT_TYPE, encoding.content_type())],
        body,
    )
        .into_response();
    e.add_headers(r.headers_mut());
    r
}

//! Connect unary calls (`POST /<package>.<Service>/<Method>`), as
//! connect-go speaks them: the request body is one message in the codec
//! its `Content-Type` names — `application/proto` (also
//! `application/x-protobuf`) or `application/json` (protobuf JSON) —
//! optionally `Content-Encoding: gzip`; the answer is one message in the
//! same codec, gzipped when the client accepts gzip, or an error as
//! Connect's JSON `{"code", "message"}` with the HTTP status Connect
//! maps the code to.

use crate::error::ApiError;
use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::io::Write;

/// Answers smaller than this go uncompressed.
const GZIP_FROM_BYTES: usize = 1024;

/// How messages are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Proto,
    Json,
}

impl Codec {
    /// The codec a request's `Content-Type` names.
    pub fn of(headers: &HeaderMap) -> Result<Codec, ApiError> {
        let ct = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let essence = ct.split(';').next().unwrap_or("").trim();
        match essence.to_ascii_lowercase().as_str() {
            "application/proto" | "application/x-protobuf" | "application/protobuf" => {
                Ok(Codec::Proto)
            }
            "application/json" => Ok(Codec::Json),
            _ => Err(ApiError::UnsupportedMediaType(format!(
                "Content-Type {ct:?} is not a Connect unary codec: use application/proto or application/json"
            ))),
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Codec::Proto => "application/proto",
            Codec::Json => "application/json",
        }
    }

    /// The request message, or `invalid_argument` naming the message.
    pub fn decode<M>(self, body: &[u8]) -> Result<M, ApiError>
    where
        M: prost::Message + Default + serde::de::DeserializeOwned,
    {
        let name = std::any::type_name::<M>()
            .rsplit("::")
            .next()
            .unwrap_or("message");
        match self {
            Codec::Proto => M::decode(body).map_err(|e| {
                ApiError::BadRequest(format!(
                    "the body is not a valid {name} (binary proto): {e}"
                ))
            }),
            // An empty JSON body is the empty message.
            Codec::Json if body.iter().all(u8::is_ascii_whitespace) => Ok(M::default()),
            Codec::Json => serde_json::from_slice(body).map_err(|e| {
                ApiError::BadRequest(format!(
                    "the body is not a valid {name} (protobuf JSON): {e}"
                ))
            }),
        }
    }

    /// The answer: `message` in this codec, gzipped when accepted.
    pub fn reply<M>(self, headers: &HeaderMap, message: &M) -> Response
    where
        M: prost::Message + serde::Serialize,
    {
        let body = match self {
            Codec::Proto => message.encode_to_vec(),
            Codec::Json => match serde_json::to_vec(message) {
                Ok(b) => b,
                Err(e) => return error(ApiError::Internal(e.to_string())),
            },
        };
        let ct = (
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type()),
        );
        if body.len() < GZIP_FROM_BYTES || !accepts_gzip(headers) {
            return ([ct], body).into_response();
        }
        let mut gz = flate2::write::GzEncoder::new(
            Vec::with_capacity(body.len() / 4),
            flate2::Compression::fast(),
        );
        match gz.write_all(&body).and_then(|_| gz.finish()) {
            Ok(gz) => (
                [
                    ct,
                    (header::CONTENT_ENCODING, HeaderValue::from_static("gzip")),
                ],
                gz,
            )
                .into_response(),
            Err(e) => error(ApiError::Internal(e.to_string())),
        }
    }
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")))
}

/// Connect's code for an error.
pub fn code(e: &ApiError) -> &'static str {
    match e {
        ApiError::BadRequest(_) | ApiError::UnsupportedMediaType(_) => "invalid_argument",
        ApiError::PayloadTooLarge(_) => "resource_exhausted",
        ApiError::RequestTimeout(_) => "deadline_exceeded",
        ApiError::NotReady | ApiError::Unavailable { .. } => "unavailable",
        ApiError::TooManyRequests(_) | ApiError::RateLimited { .. } => "resource_exhausted",
        ApiError::Unauthorized => "unauthenticated",
        ApiError::Forbidden(_) => "permission_denied",
        ApiError::NotFound(_) => "not_found",
        ApiError::NotImplemented(_) => "unimplemented",
        ApiError::Internal(_) => "internal",
    }
}

/// The HTTP status Connect gives a code.
fn status_of(code: &str) -> StatusCode {
    match code {
        "invalid_argument" | "failed_precondition" | "out_of_range" => StatusCode::BAD_REQUEST,
        "unauthenticated" => StatusCode::UNAUTHORIZED,
        "permission_denied" => StatusCode::FORBIDDEN,
        "not_found" => StatusCode::NOT_FOUND,
        "already_exists" | "aborted" => StatusCode::CONFLICT,
        "resource_exhausted" => StatusCode::TOO_MANY_REQUESTS,
        "unimplemented" => StatusCode::NOT_IMPLEMENTED,
        "unavailable" => StatusCode::SERVICE_UNAVAILABLE,
        "deadline_exceeded" => StatusCode::GATEWAY_TIMEOUT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Connect's error answer. A body too large keeps 413 and an unknown
/// codec 415, as Connect servers answer before reading a message.
pub fn error(e: ApiError) -> Response {
    let code = code(&e);
    if let ApiError::Internal(detail) = &e {
        tracing::error!(error = %detail, "connect call failed");
    }
    let status = match e {
        ApiError::UnsupportedMediaType(_) | ApiError::PayloadTooLarge(_) => e.status(),
        _ => status_of(code),
    };
    let mut r = (
        status,
        Json(json!({"code": code, "message": e.public_message()})),
    )
        .into_response();
    e.add_headers(r.headers_mut());
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses_are_connects() {
        let bad = error(ApiError::BadRequest("x".into()));
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
        let unimpl = error(ApiError::NotImplemented("x".into()));
        assert_eq!(unimpl.status(), StatusCode::NOT_IMPLEMENTED);
        let slow = error(ApiError::TooManyRequests("x".into()));
        assert_eq!(slow.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(code(&ApiError::Unauthorized), "unauthenticated");
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=utf-8"),
        );
        assert_eq!(Codec::of(&h).unwrap(), Codec::Json);
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert!(Codec::of(&h).is_err());
    }
}

//! Errors of the server crate and their HTTP form.

use crate::decode::DecodeError;
use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Errors starting the server.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("storage: {0}")]
    Storage(#[from] flarego_storage::Error),
    #[error("query engine: {0}")]
    Query(#[from] flarego_query::Error),
    #[error("storage start-up task failed: {0}")]
    Startup(String),
    #[error("{0}")]
    Tls(String),
    #[error("alert rules: {0}")]
    Alerts(#[from] flarego_alerts::AlertError),
}

/// Result type of the server crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An HTTP API error: 4xx say exactly what was wrong with the request;
/// 5xx say little to the client and everything to the log.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The client sent its body too slowly.
    #[error("{0}")]
    RequestTimeout(String),
    #[error("server is not ready yet: replaying the write-ahead log")]
    NotReady,
    #[error("{0}")]
    TooManyRequests(String),
    /// No token, or a token that does not verify. The reason goes to the
    /// log only.
    #[error("unauthorized: a valid bearer token is required")]
    Unauthorized,
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after_secs: u64,
    },
    /// The server cannot take this now (busy); retry after the delay.
    #[error("{message}")]
    Unavailable {
        message: String,
        retry_after_secs: u64,
    },
    /// The request asks for a form this server does not serve.
    #[error("not implemented: {0}")]
    NotImplemented(String),
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RequestTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::NotReady | ApiError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::TooManyRequests(_) | ApiError::RateLimited { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the client is told.
    pub fn public_message(&self) -> String {
        match self {
            ApiError::Internal(_) => "internal error; see the server log".into(),
            other => other.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(detail) = &self {
            tracing::error!(error = %detail, "request failed");
        }
        let mut r = (self.status(), Json(json!({"error": self.public_message()}))).into_response();
        self.add_headers(r.headers_mut());
        r
    }
}

impl ApiError {
    /// The headers the refusal implies: `Retry-After` for a rate limit or
    /// a busy server, `WWW-Authenticate` for a missing token.
    pub fn add_headers(&self, h: &mut axum::http::HeaderMap) {
        match self {
            ApiError::RateLimited {
                retry_after_secs, ..
            }
            | ApiError::Unavailable {
                retry_after_secs, ..
            } => {
                h.insert(axum::http::header::RETRY_AFTER, (*retry_after_secs).into());
            }
            ApiError::Unauthorized => {
                h.insert(
                    axum::http::header::WWW_AUTHENTICATE,
                    axum::http::HeaderValue::from_static("Bearer"),
                );
            }
            _ => {}
        }
    }
}

impl From<DecodeError> for ApiError {
    fn from(e: DecodeError) -> Self {
        match e {
            DecodeError::BodyTooLarge { .. }
            | DecodeError::DecompressedTooLarge { .. }
            | DecodeError::OverMemoryBudget { .. } => ApiError::PayloadTooLarge(e.to_string()),
            DecodeError::ServerBusy { .. } => ApiError::Unavailable {
                message: e.to_string(),
                retry_after_secs: 1,
            },
            other => ApiError::BadRequest(other.to_string()),
        }
    }
}

impl From<flarego_query::Error> for ApiError {
    fn from(e: flarego_query::Error) -> Self {
        use flarego_query::Error as Q;
        match e {
            Q::NotReadOnly(_) | Q::InvalidQuery(_) => ApiError::BadRequest(e.to_string()),
            Q::ResourcesExhausted(_) => ApiError::TooManyRequests(e.to_string()),
            Q::Execution(m) => ApiError::Internal(m),
        }
    }
}

impl From<flarego_storage::Error> for ApiError {
    fn from(e: flarego_storage::Error) -> Self {
        match e {
            // Over a high-water mark, or the WAL cannot be written (a full
            // disk): nothing was stored, and a retry may succeed.
            flarego_storage::Error::Backpressure { .. } | flarego_storage::Error::WalAppend(_) => {
                ApiError::Unavailable {
                    message: e.to_string(),
                    retry_after_secs: 5,
                }
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

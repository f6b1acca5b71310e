//! The web UI's files: `ui/dist/` built into the binary, or read from
//! `--ui-dir` on each request while developing it.
//!
//! `GET /` is the page (`Cache-Control: no-cache`), `GET /assets/{file}`
//! its script and stylesheet, each with an ETag (a hash of the content)
//! so a browser revalidates with `If-None-Match` and gets 304. Pages get
//! a Content-Security-Policy that allows only this server's own scripts
//! and connections, and may not be framed by another site.

use crate::error::ApiError;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::path::PathBuf;
use std::sync::Arc;

/// One file of the bundle.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const EMBEDDED: [Asset; 3] = [
    Asset {
        name: "index.html",
        content_type: "text/html; charset=utf-8",
        bytes: include_bytes!("../../ui/dist/index.html"),
    },
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../../ui/dist/app.js"),
    },
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../../ui/dist/app.css"),
    },
];

const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// Where the UI's files come from.
#[derive(Debug, Clone, Default)]
pub enum UiSource {
    /// The bundle built into the binary.
    #[default]
    Embedded,
    /// A `dist` folder on disk, read on every request.
    Dir(PathBuf),
}

/// The routes serving the page and its assets.
pub fn routes<S: Clone + Send + Sync + 'static>(source: UiSource) -> Router<S> {
    let source = Arc::new(source);
    Router::new()
        .route("/", get(page))
        .route("/assets/{file}", get(asset))
        .with_state(source)
}

async fn page(
    State(source): State<Arc<UiSource>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    serve(&source, "index.html", &headers).await
}

async fn asset(
    State(source): State<Arc<UiSource>>,
    Path(file): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if file == "index.html" {
        return Err(ApiError::NotFound(format!("no asset {file:?}")));
    }
    serve(&source, &file, &headers).await
}

async fn serve(source: &UiSource, name: &str, headers: &HeaderMap) -> Result<Response, ApiError> {
    let asset = EMBEDDED
        .iter()
        .find(|a| a.name == name)
        .ok_or_else(|| ApiError::NotFound(format!("no asset {name:?}")))?;
    let bytes: std::borrow::Cow<'static, [u8]> = match source {
        UiSource::Embedded => asset.bytes.into(),
        UiSource::Dir(dir) => {
            let path = dir.join(asset.name);
            tokio::fs::read(&path)
                .await
                .map_err(|e| {
                    ApiError::NotFound(format!("--ui-dir: cannot read {}: {e}", path.display()))
                })?
                .into()
        }
    };
    let etag = format!("\"{:016x}\"", xxhash_rust::xxh3::xxh3_64(&bytes));
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(header::CONTENT_TYPE, asset.content_type)],
            bytes.into_owned(),
        )
            .into_response()
    };
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if name == "index.html" {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    Ok(response)
}

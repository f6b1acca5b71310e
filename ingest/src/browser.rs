//! Protection against web pages the user visits, when auth is off.
//!
//! Any page can make the browser send a request to `127.0.0.1:4040` (a
//! form or a `text/plain` fetch needs no CORS preflight), and DNS
//! rebinding lets a page read the answers by pointing its own domain name
//! at 127.0.0.1. With no token to steal, the server itself must tell
//! those requests apart from the user's:
//!
//! - `Host` must be an IP literal, `localhost` (or a `*.localhost` name),
//!   or one of `--allowed-hosts`: a rebound domain name never passes.
//! - `Origin`, when a browser sends one, must be the server's own (same
//!   scheme-less authority as `Host`) or one of `--allowed-origins`.
//!   Tools and SDKs send none and pass.
//! - JSON endpoints take `Content-Type: application/json` only (checked
//!   by those handlers: [`require_json`]), so a form cannot reach them.
//! - No CORS headers are ever sent, so no other origin may read answers.

use crate::error::ApiError;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// Which hosts and origins besides loopback ones may be used with auth off.
#[derive(Debug, Clone, Default)]
pub struct BrowserPolicy {
    /// Host names (without port) accepted in `Host`.
    pub allowed_hosts: Vec<String>,
    /// Origins (`scheme://host[:port]`) accepted in `Origin`.
    pub allowed_origins: Vec<String>,
}

impl BrowserPolicy {
    /// Why a request with these headers is refused, if it is.
    pub fn check(&self, headers: &HeaderMap, uri_host: Option<&str>) -> Result<(), String> {
        let host = match headers.get(header::HOST) {
            Some(v) => Some(
                v.to_str()
                    .map_err(|_| "the Host header is not ASCII".to_string())?
                    .to_string(),
            ),
            None => uri_host.map(str::to_string),
        };
        if let Some(host) = &host
            && !self.host_allowed(host)
        {
            return Err(format!(
                "Host {host:?} is not a loopback name or IP address: with auth off only those and --allowed-hosts are served (a page on another site could reach this server through DNS rebinding)"
            ));
        }
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin
                .to_str()
                .map_err(|_| "the Origin header is not ASCII".to_string())?;
            let same = host
                .as_deref()
                .is_some_and(|h| authority_of(origin).is_some_and(|a| a.eq_ignore_ascii_case(h)));
            let listed = self
                .allowed_origins
                .iter()
                .any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(origin));
            if !same && !listed {
                return Err(format!(
                    "Origin {origin:?} is another site: with auth off only this server's own pages and --allowed-origins may call it"
                ));
            }
        }
        Ok(())
    }

    fn host_allowed(&self, host_port: &str) -> bool {
        let host = strip_port(host_port);
        let name = host.trim_start_matches('[').trim_end_matches(']');
        if name.parse::<std::net::IpAddr>().is_ok() {
            return true;
        }
        let lower = name.to_ascii_lowercase();
        let lower = lower.trim_end_matches('.');
        lower == "localhost"
            || lower.ends_with(".localhost")
            || self
                .allowed_hosts
                .iter()
                .any(|h| h.eq_ignore_ascii_case(lower))
    }
}

/// `host[:port]` of an origin `scheme://host[:port]`.
fn authority_of(origin: &str) -> Option<&str> {
    origin
        .split_once("://")
        .map(|(_, rest)| rest.trim_end_matches('/'))
}

/// The host part of `host[:port]` or `[v6]:port`.
fn strip_port(h: &str) -> &str {
    if let Some(rest) = h.strip_prefix('[') {
        return rest.split_once(']').map_or(h, |(v6, _)| v6);
    }
    match h.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) && !name.contains(':') => {
            name
        }
        _ => h,
    }
}

/// The middleware: refuses (403) what [`BrowserPolicy::check`] refuses.
pub async fn guard(State(policy): State<Arc<BrowserPolicy>>, req: Request, next: Next) -> Response {
    if let Err(why) = policy.check(req.headers(), req.uri().host()) {
        tracing::warn!(reason = %why, path = %req.uri().path(), "request refused: browser protection");
        return ApiError::Forbidden(why).into_response();
    }
    next.run(req).await
}

/// Refuses (415) a JSON endpoint's request without `Content-Type:
/// application/json`: an HTML form or a `text/plain` fetch from another
/// site cannot send that without a CORS preflight, which is never granted.
pub fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = ct.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType(format!(
            "Content-Type must be application/json, not {ct:?}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn loopback_and_ip_hosts_pass_rebound_names_do_not() {
        let p = BrowserPolicy::default();
        for ok in [
            "127.0.0.1:4040",
            "localhost:4040",
            "[::1]:4040",
            "app.localhost",
            "10.1.2.3",
        ] {
            assert!(p.check(&headers(&[("host", ok)]), None).is_ok(), "{ok}");
        }
        let e = p
            .check(&headers(&[("host", "evil.example:4040")]), None)
            .unwrap_err();
        assert!(e.contains("evil.example"), "{e}");
        let p = BrowserPolicy {
            allowed_hosts: vec!["flarego.internal".into()],
            ..Default::default()
        };
        assert!(
            p.check(&headers(&[("host", "flarego.internal:4040")]), None)
                .is_ok()
        );
    }

    #[test]
    fn only_the_servers_own_origin_passes() {
        let p = BrowserPolicy::default();
        let own = headers(&[
            ("host", "127.0.0.1:4040"),
            ("origin", "http://127.0.0.1:4040"),
        ]);
        assert!(p.check(&own, None).is_ok());
        let evil = headers(&[
            ("host", "127.0.0.1:4040"),
            ("origin", "http://evil.example"),
        ]);
        assert!(p.check(&evil, None).unwrap_err().contains("another site"));
        let null = headers(&[("host", "127.0.0.1:4040"), ("origin", "null")]);
        assert!(p.check(&null, None).is_err());
        let p = BrowserPolicy {
            allowed_origins: vec!["https://grafana.example".into()],
            ..Default::default()
        };
        let grafana = headers(&[
            ("host", "127.0.0.1:4040"),
            ("origin", "https://grafana.example"),
        ]);
        assert!(p.check(&grafana, None).is_ok());
    }
}

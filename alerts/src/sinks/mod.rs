//! Sinks: where notifications go. Each configured sink gets a worker of
//! its own ([`delivery`]) with a queue, a per-attempt timeout, retries
//! with exponential backoff and jitter, and a dead-letter record after
//! the last attempt — so a slow or dead sink delays nothing else.
//!
//! - `log`: one structured log line per notification ([`log`]).
//! - `slack`: an incoming-webhook POST, text plus blocks ([`slack`]).
//! - `webhook`: JSON, optionally signed with HMAC-SHA256 ([`webhook`]).
//! - `jira`: an issue per firing instance, commented on and/or
//!   transitioned on resolve ([`jira`]).

pub mod delivery;
pub mod jira;
pub mod log;
pub mod slack;
pub mod webhook;

use crate::notification::Notification;
use crate::rules::duration_ns;
use serde::Deserialize;
use std::time::Duration;

/// A sink as written in a rule file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinkSpec {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: SinkKind,
    pub url: Option<String>,
    /// webhook: the HMAC-SHA256 key of `X-FlareGo-Signature`.
    pub secret: Option<String>,
    /// Per attempt. Default 10s.
    pub timeout: Option<String>,
    /// Attempts before the dead-letter record. Default 5.
    pub attempts: Option<u32>,
    /// First retry delay, doubled each time up to `max_backoff`.
    /// Defaults 1s and 1m.
    pub backoff: Option<String>,
    pub max_backoff: Option<String>,
    /// slack: overrides the webhook's channel.
    pub channel: Option<String>,
    /// jira: project key and issue type (default `Task`).
    pub project: Option<String>,
    pub issue_type: Option<String>,
    /// jira: basic auth (user and API token) or a bearer token.
    pub user: Option<String>,
    pub api_token: Option<String>,
    pub bearer_token: Option<String>,
    /// jira: `comment` (default), `transition` or `both` on resolve.
    pub on_resolve: Option<String>,
    /// jira: the transition id used on resolve.
    pub transition: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SinkKind {
    Log,
    Slack,
    Webhook,
    Jira,
}

/// How to retry one sink's notifications.
#[derive(Debug, Clone, PartialEq)]
pub struct Retry {
    pub timeout: Duration,
    pub attempts: u32,
    pub backoff: Duration,
    pub max_backoff: Duration,
}

/// What a Jira sink does on resolve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnResolve {
    Comment,
    Transition,
    Both,
}

/// A checked sink.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkConfig {
    pub name: String,
    pub kind: SinkKind,
    pub url: String,
    pub secret: Option<String>,
    pub retry: Retry,
    pub channel: Option<String>,
    pub project: String,
    pub issue_type: String,
    pub auth: Option<HttpAuth>,
    pub on_resolve: OnResolve,
    pub transition: Option<String>,
}

/// Credentials a sink sends.
#[derive(Debug, Clone, PartialEq)]
pub enum HttpAuth {
    Basic { user: String, token: String },
    Bearer(String),
}

impl SinkConfig {
    /// The built-in `log` sink.
    pub fn log() -> SinkConfig {
        SinkConfig {
            name: "log".into(),
            kind: SinkKind::Log,
            url: String::new(),
            secret: None,
            retry: Retry {
                timeout: Duration::from_secs(1),
                attempts: 1,
                backoff: Duration::ZERO,
                max_backoff: Duration::ZERO,
            },
            channel: None,
            project: String::new(),
            issue_type: String::new(),
            auth: None,
            on_resolve: OnResolve::Comment,
            transition: None,
        }
    }

    pub fn from_spec(s: SinkSpec) -> Result<SinkConfig, String> {
        let name = s.name.clone();
        let bad = |reason: String| format!("sink {name:?}: {reason}");
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(bad("a sink name is 1 or more of [A-Za-z0-9_.-]".into()));
        }
        let dur = |key: &str, v: &Option<String>, default: &str| {
            duration_ns(key, v.as_deref().unwrap_or(default))
                .map(|ns| Duration::from_nanos(ns.max(0) as u64))
                .map_err(bad)
        };
        let retry = Retry {
            timeout: dur("timeout", &s.timeout, "10s")?,
            attempts: s.attempts.unwrap_or(5),
            backoff: dur("backoff", &s.backoff, "1s")?,
            max_backoff: dur("max_backoff", &s.max_backoff, "1m")?,
        };
        if retry.attempts == 0 || retry.attempts > 100 {
            return Err(bad("attempts must be 1-100".into()));
        }
        if retry.timeout.is_zero() {
            return Err(bad("timeout must be greater than zero".into()));
        }
        let url = match (s.kind, &s.url) {
            (SinkKind::Log, _) => String::new(),
            (_, Some(u)) if u.starts_with("http://") || u.starts_with("https://") => {
                u.trim_end_matches('/').to_string()
            }
            (_, Some(u)) => {
                return Err(bad(format!(
                    "url {u:?} must start with http:// or https://"
                )));
            }
            (_, None) => return Err(bad("needs a url".into())),
        };
        let auth = match (&s.user, &s.api_token, &s.bearer_token) {
            (Some(u), Some(t), None) => Some(HttpAuth::Basic {
                user: u.clone(),
                token: t.clone(),
            }),
            (None, None, Some(b)) => Some(HttpAuth::Bearer(b.clone())),
            (None, None, None) => None,
            _ => return Err(bad("give user and api_token, or bearer_token".into())),
        };
        let on_resolve = match s.on_resolve.as_deref().unwrap_or("comment") {
            "comment" => OnResolve::Comment,
            "transition" => OnResolve::Transition,
            "both" => OnResolve::Both,
            other => {
                return Err(bad(format!(
                    "on_resolve = {other:?}: use comment, transition or both"
                )));
            }
        };
        if s.kind == SinkKind::Jira {
            if s.project.as_deref().unwrap_or("").is_empty() {
                return Err(bad("a jira sink needs project".into()));
            }
            if auth.is_none() {
                return Err(bad(
                    "a jira sink needs user and api_token, or bearer_token".into()
                ));
            }
            if on_resolve != OnResolve::Comment && s.transition.is_none() {
                return Err(bad(
                    "on_resolve with a transition needs transition (its id)".into(),
                ));
            }
        }
        Ok(SinkConfig {
            name: s.name,
            kind: s.kind,
            url,
            secret: s.secret,
            retry,
            channel: s.channel,
            project: s.project.unwrap_or_default(),
            issue_type: s.issue_type.unwrap_or_else(|| "Task".into()),
            auth,
            on_resolve,
            transition: s.transition,
        })
    }
}

/// Why one delivery attempt failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    pub message: String,
    /// Worth another attempt (network errors, 5xx, 408, 429).
    pub retryable: bool,
}

impl SendError {
    pub fn of_status(status: u16, body: &str) -> SendError {
        SendError {
            message: format!(
                "HTTP {status}: {}",
                body.chars().take(200).collect::<String>()
            ),
            retryable: status >= 500 || status == 408 || status == 429,
        }
    }

    pub fn of_reqwest(e: reqwest::Error) -> SendError {
        SendError {
            message: e.to_string(),
            retryable: true,
        }
    }
}

/// One destination.
#[async_trait::async_trait]
pub trait Sink: Send + Sync {
    async fn send(&self, n: &Notification) -> Result<(), SendError>;
}

/// POSTs JSON and reads the answer; any non-2xx is an error.
pub(crate) async fn post_json(
    client: &reqwest::Client,
    url: &str,
    auth: Option<&HttpAuth>,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> Result<String, SendError> {
    let mut req = client
        .post(url)
        .header("content-type", "application/json")
        .body(body);
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    req = match auth {
        Some(HttpAuth::Basic { user, token }) => req.basic_auth(user, Some(token)),
        Some(HttpAuth::Bearer(t)) => req.bearer_auth(t),
        None => req,
    };
    let resp = req.send().await.map_err(SendError::of_reqwest)?;
    let status = resp.status().as_u16();
    let text = resp.text().await.map_err(SendError::of_reqwest)?;
    if (200..300).contains(&status) {
        Ok(text)
    } else {
        Err(SendError::of_status(status, &text))
    }
}

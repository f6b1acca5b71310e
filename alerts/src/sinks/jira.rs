//! The `jira` sink, over Jira's REST API (v2: plain-text descriptions).
//!
//! ```text
//! firing   ─▶ POST {url}/rest/api/2/issue {fields: project, issuetype, summary, description, labels}
//!             (skipped while the instance already has an open issue)
//! resolved ─▶ POST {url}/rest/api/2/issue/{key}/comment {body}
//!             and/or POST {url}/rest/api/2/issue/{key}/transitions {transition: {id}}
//! ```
//!
//! Open issues (fingerprint → key, and how far resolving got) are kept
//! in a file beside the alert state, so at most one issue is open per
//! alert instance across restarts, and a retried resolve does not
//! comment twice.

use super::{OnResolve, SendError, Sink, SinkConfig, post_json};
use crate::notification::{Notification, NotifyState};
use crate::template::format_value;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct OpenIssue {
    key: String,
    #[serde(default)]
    commented: bool,
}

pub struct JiraSink {
    client: reqwest::Client,
    config: SinkConfig,
    path: PathBuf,
    open: tokio::sync::Mutex<BTreeMap<String, OpenIssue>>,
}

impl JiraSink {
    /// A sink whose open issues are kept in `path`.
    pub fn new(client: reqwest::Client, config: SinkConfig, path: PathBuf) -> JiraSink {
        let open = std::fs::read(&path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default();
        JiraSink {
            client,
            config,
            path,
            open: tokio::sync::Mutex::new(open),
        }
    }

    async fn save(&self, open: &BTreeMap<String, OpenIssue>) -> Result<(), SendError> {
        let bytes = serde_json::to_vec_pretty(open).unwrap_or_default();
        crate::store::write_atomic(self.path.clone(), bytes)
            .await
            .map_err(|e| SendError {
                message: format!("cannot record the open Jira issue: {e}"),
                retryable: true,
            })
    }

    fn description(n: &Notification) -> String {
        let labels: Vec<String> = n.labels.iter().map(|(k, v)| format!("{k} = {v}")).collect();
        format!(
            "{}\n\n{}\n\nRule: {}\nTenant: {}\nValue: {}\nSince: {}\nLabels:\n{}\nFingerprint: {}",
            n.summary,
            n.description,
            n.rule,
            n.tenant,
            format_value(n.value),
            n.starts_at,
            labels.join("\n"),
            n.fingerprint
        )
    }

    async fn create(&self, n: &Notification) -> Result<String, SendError> {
        let summary: String = format!("[{}] {}", n.rule, n.summary)
            .chars()
            .take(255)
            .collect();
        let body = json!({
            "fields": {
                "project": {"key": self.config.project},
                "issuetype": {"name": self.config.issue_type},
                "summary": summary,
                "description": Self::description(n),
                "labels": ["flarego", format!("flarego-{}", n.fingerprint)],
            }
        });
        let url = format!("{}/rest/api/2/issue", self.config.url);
        let text = post_json(
            &self.client,
            &url,
            self.config.auth.as_ref(),
            &[],
            serde_json::to_vec(&body).unwrap_or_default(),
        )
        .await?;
        let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| SendError {
            message: format!("Jira's answer to creating an issue is not JSON: {e}"),
            retryable: false,
        })?;
        v.get("key")
            .and_then(|k| k.as_str())
            .map(str::to_string)
            .ok_or_else(|| SendError {
                message: format!("Jira's answer names no issue key: {text}"),
                retryable: false,
            })
    }
}

#[async_trait::async_trait]
impl Sink for JiraSink {
    async fn send(&self, n: &Notification) -> Result<(), SendError> {
        let mut open = self.open.lock().await;
        match n.state {
            NotifyState::Firing => {
                if open.contains_key(&n.fingerprint) {
                    return Ok(());
                }
                let key = self.create(n).await?;
                tracing::info!(rule = %n.rule, issue = %key, "Jira issue created");
                open.insert(
                    n.fingerprint.clone(),
                    OpenIssue {
                        key,
                        commented: false,
                    },
                );
                self.save(&open).await
            }
            NotifyState::Resolved => {
                let Some(issue) = open.get(&n.fingerprint).cloned() else {
                    return Ok(());
                };
                let base = format!("{}/rest/api/2/issue/{}", self.config.url, issue.key);
                let auth = self.config.auth.as_ref();
                let comment =
                    matches!(self.config.on_resolve, OnResolve::Comment | OnResolve::Both);
                if comment && !issue.commented {
                    let body = json!({"body": format!(
                        "Resolved at {}: {}",
                        n.ends_at.as_deref().unwrap_or(""),
                        n.summary
                    )});
                    let b = serde_json::to_vec(&body).unwrap_or_default();
                    post_json(&self.client, &format!("{base}/comment"), auth, &[], b).await?;
                    if let Some(i) = open.get_mut(&n.fingerprint) {
                        i.commented = true;
                    }
                    self.save(&open).await?;
                }
                if self.config.on_resolve != OnResolve::Comment {
                    let id = self.config.transition.clone().unwrap_or_default();
                    let b =
                        serde_json::to_vec(&json!({"transition": {"id": id}})).unwrap_or_default();
                    post_json(&self.client, &format!("{base}/transitions"), auth, &[], b).await?;
                }
                open.remove(&n.fingerprint);
                self.save(&open).await
            }
        }
    }
}

//! The `slack` sink: an incoming-webhook POST with `text` (the
//! notification fallback) and `blocks` (header, summary, labels as
//! fields, context), within Slack's documented text limits.

use super::{SendError, Sink, SinkConfig, post_json};
use crate::notification::{Notification, NotifyState};
use crate::template::format_value;
use serde_json::{Value, json};

pub struct SlackSink {
    pub client: reqwest::Client,
    pub config: SinkConfig,
}

/// Header text is at most 150 characters, section text 3,000, a field
/// 2,000, and a section at most 10 fields.
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// The payload for one notification.
pub fn payload(n: &Notification, channel: Option<&str>) -> Value {
    let state = match (n.state, n.repeat) {
        (NotifyState::Firing, false) => "FIRING",
        (NotifyState::Firing, true) => "STILL FIRING",
        (NotifyState::Resolved, _) => "RESOLVED",
    };
    let title = format!("[{state}] {}", n.rule);
    let fields: Vec<Value> = n
        .labels
        .iter()
        .take(10)
        .map(|(k, v)| json!({"type": "mrkdwn", "text": cut(&format!("*{k}*\n{v}"), 2000)}))
        .collect();
    let mut context = format!(
        "value {} · since {} · tenant {} · fingerprint {}",
        format_value(n.value),
        n.starts_at,
        n.tenant,
        n.fingerprint
    );
    if let Some(end) = &n.ends_at {
        context.push_str(&format!(" · resolved {end}"));
    }
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": cut(&title, 150)}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": cut(&n.summary, 3000)}}),
    ];
    if !fields.is_empty() {
        blocks.push(json!({"type": "section", "fields": fields}));
    }
    blocks.push(
        json!({"type": "context", "elements": [{"type": "mrkdwn", "text": cut(&context, 3000)}]}),
    );
    let mut p = json!({
        "text": cut(&format!("{title}: {}", n.summary), 3000),
        "blocks": blocks,
    });
    if let Some(c) = channel {
        p["channel"] = c.into();
    }
    p
}

#[async_trait::async_trait]
impl Sink for SlackSink {
    async fn send(&self, n: &Notification) -> Result<(), SendError> {
        let body =
            serde_json::to_vec(&payload(n, self.config.channel.as_deref())).unwrap_or_default();
        post_json(&self.client, &self.config.url, None, &[], body)
            .await
            .map(|_| ())
    }
}

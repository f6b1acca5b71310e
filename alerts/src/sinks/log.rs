//! The `log` sink: one structured line per notification.

use super::{SendError, Sink};
use crate::notification::Notification;

pub struct LogSink;

#[async_trait::async_trait]
impl Sink for LogSink {
    async fn send(&self, n: &Notification) -> Result<(), SendError> {
        let labels = serde_json::to_string(&n.labels).unwrap_or_default();
        tracing::warn!(
            target: "flarego::alert",
            tenant = %n.tenant,
            rule = %n.rule,
            state = n.state.as_str(),
            repeat = n.repeat,
            value = n.value,
            labels = %labels,
            fingerprint = %n.fingerprint,
            starts_at = %n.starts_at,
            ends_at = n.ends_at.as_deref().unwrap_or(""),
            summary = %n.summary,
            "alert"
        );
        Ok(())
    }
}

//! The `webhook` sink: the notification as JSON, optionally signed.
//!
//! `X-FlareGo-Signature: sha256=<hex HMAC-SHA256 of the body>` when the
//! sink has a `secret`; `X-FlareGo-Notification-Id` is the same on every
//! attempt of one notification.

use super::{SendError, Sink, SinkConfig, post_json};
use crate::notification::Notification;
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub struct WebhookSink {
    pub client: reqwest::Client,
    pub config: SinkConfig,
}

/// The body sent: the notification plus a format version.
pub fn body(n: &Notification) -> Vec<u8> {
    let mut v = serde_json::to_value(n).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.insert("version".into(), "1".into());
    }
    serde_json::to_vec(&v).unwrap_or_default()
}

/// `sha256=<hex>` of `body` under `secret`.
pub fn signature(secret: &str, body: &[u8]) -> String {
    // HMAC takes keys of any length.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret.as_bytes()) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

#[async_trait::async_trait]
impl Sink for WebhookSink {
    async fn send(&self, n: &Notification) -> Result<(), SendError> {
        let body = body(n);
        let mut headers = vec![("x-flarego-notification-id", n.id.clone())];
        if let Some(secret) = &self.config.secret {
            headers.push(("x-flarego-signature", signature(secret, &body)));
        }
        post_json(
            &self.client,
            &self.config.url,
            self.config.auth.as_ref(),
            &headers,
            body,
        )
        .await
        .map(|_| ())
    }
}

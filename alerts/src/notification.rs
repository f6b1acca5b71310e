//! What sinks deliver: one alert instance turning firing (again) or
//! resolved.

use serde::Serialize;
use std::collections::BTreeMap;

/// `firing` or `resolved`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum NotifyState {
    Firing,
    Resolved,
}

impl NotifyState {
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyState::Firing => "firing",
            NotifyState::Resolved => "resolved",
        }
    }
}

/// One notification. `id` is unique per notification and stays the same
/// across delivery attempts, so receivers can drop repeats.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notification {
    pub id: String,
    pub tenant: String,
    pub rule: String,
    pub state: NotifyState,
    /// The group's labels and the rule's.
    pub labels: BTreeMap<String, String>,
    pub value: f64,
    pub summary: String,
    pub description: String,
    /// When the instance started firing (RFC 3339).
    pub starts_at: String,
    /// When it resolved (RFC 3339); `None` while firing.
    pub ends_at: Option<String>,
    pub fingerprint: String,
    /// A reminder of an instance still firing (`repeat_interval`).
    pub repeat: bool,
}

/// RFC 3339 of nanoseconds since the epoch.
pub fn rfc3339(ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(ns).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

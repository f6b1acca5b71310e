//! Delivering chunks: one session at a time over gRPC (or WebSocket),
//! in order, each removed from the [`Outbox`] once the server acks it.
//! A failed session is retried with exponential backoff and jitter, and
//! the next session resends every unacked chunk (the server drops
//! resends by (agent, sequence)).

pub mod grpc;
pub mod ws;

use crate::outbox::Outbox;
use rand::Rng;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Chunks sent but not yet acked, at most, per session.
pub const MAX_IN_FLIGHT: usize = 8;

/// How chunks travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Transport {
    /// gRPC bidi stream to the gRPC port (`agent.v1.AgentIngest/Stream`).
    #[default]
    Grpc,
    /// WebSocket to the HTTP port (`/api/v1/agent/ws`), for proxies that
    /// only pass HTTP/1.1.
    WebSocket,
}

impl std::str::FromStr for Transport {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "grpc" => Ok(Transport::Grpc),
            "websocket" | "ws" => Ok(Transport::WebSocket),
            _ => Err(format!("unknown transport {s:?}: use grpc or websocket")),
        }
    }
}

/// Where and how to deliver.
#[derive(Debug, Clone)]
pub struct UploadConfig {
    /// `http://host:port`: the gRPC port, or the HTTP port for WebSocket.
    pub server: String,
    pub transport: Transport,
    /// Sent as `authorization: Bearer …`.
    pub token: Option<String>,
    /// Sent as `x-scope-orgid`.
    pub tenant: Option<String>,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// Largest ack or reply accepted, bytes.
    pub max_message_bytes: usize,
    /// For `https://` servers: the CA to trust (PEM) instead of the
    /// system roots.
    pub ca_cert_pem: Option<Vec<u8>>,
    /// For servers that require client certificates: `(cert, key)` PEM.
    pub client_identity: Option<(Vec<u8>, Vec<u8>)>,
}

/// Why a session ended early.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("cannot connect to {server}: {reason}")]
    Connect { server: String, reason: String },
    #[error("stream to {server} failed: {reason}")]
    Stream { server: String, reason: String },
    #[error("bad server address {server:?}: {reason}")]
    Address { server: String, reason: String },
}

/// Counters for the agent's own metrics.
#[derive(Debug, Default)]
pub struct UploadStats {
    /// Sessions that ended in an error (each is retried after a backoff).
    pub failures: AtomicU64,
    /// 1 while a session is open.
    pub connected: AtomicU64,
}

/// Delivers until the outbox is closed and empty. Returns when done;
/// the caller bounds how long it waits.
pub async fn run(config: UploadConfig, outbox: Arc<Outbox>, stats: Arc<UploadStats>) {
    let mut attempt: u32 = 0;
    loop {
        if outbox.is_closed() && outbox.is_empty() {
            return;
        }
        let acked = || {
            let s = outbox.stats();
            s.delivered + s.refused
        };
        let before = acked();
        let r = match config.transport {
            Transport::Grpc => grpc::session(&config, &outbox, &stats).await,
            Transport::WebSocket => ws::session(&config, &outbox, &stats).await,
        };
        stats.connected.store(0, Ordering::Relaxed);
        match r {
            Ok(()) => return,
            Err(e) => {
                stats.failures.fetch_add(1, Ordering::Relaxed);
                let progressed = acked() > before;
                if progressed {
                    attempt = 0;
                }
                let delay = backoff(&config, attempt);
                attempt = attempt.saturating_add(1);
                tracing::warn!(
                    error = %e,
                    queued = outbox.stats().queued,
                    retry_in_ms = delay.as_millis() as u64,
                    "delivery interrupted; will resend unacked chunks"
                );
                tokio::time::sleep(delay).await;
            }
        }
    }
}

/// `initial · 2^attempt`, capped, times a random factor in [0.5, 1).
pub fn backoff(config: &UploadConfig, attempt: u32) -> Duration {
    let exp = config
        .backoff_initial
        .saturating_mul(1u32 << attempt.min(20))
        .min(config.backoff_max);
    exp.mul_f64(rand::rng().random_range(0.5..1.0))
}

/// The loop both transports share: keep up to [`MAX_IN_FLIGHT`] chunks
/// sent ahead of the acks, in order; hand acks to the outbox.
pub(crate) struct Pump<'a> {
    pub outbox: &'a Outbox,
    /// Sequence of the last chunk sent in this session.
    pub sent: u64,
}

impl Pump<'_> {
    /// The next chunk to send now, if the window allows one.
    pub fn next(&mut self) -> Option<crate::outbox::Pending> {
        let in_flight = self.outbox.in_flight_through(self.sent);
        if in_flight >= MAX_IN_FLIGHT {
            return None;
        }
        let p = self.outbox.next_after(self.sent)?;
        self.sent = p.seq;
        Some(p)
    }

    pub fn ack(&self, ack: &flarego_proto::agent::v1::Ack) {
        if !ack.error.is_empty() {
            tracing::error!(seq = ack.seq, error = %ack.error, "server refused a chunk; dropped");
        }
        self.outbox.ack(ack.seq, !ack.error.is_empty());
    }

    pub fn finished(&self) -> bool {
        self.outbox.is_closed() && self.outbox.is_empty()
    }

    /// Sends and acks over `link` until the outbox is closed and empty
    /// (`Ok`) or the link fails (`Err` with the reason).
    pub async fn drive(mut self, link: &mut impl Link) -> Result<(), String> {
        loop {
            let changed = self.outbox.changed();
            tokio::pin!(changed);
            changed.as_mut().enable();
            while let Some(p) = self.next() {
                link.send(p.chunk).await?;
            }
            if self.finished() {
                link.close().await;
                return Ok(());
            }
            tokio::select! {
                ack = link.next_ack() => self.ack(&ack?),
                _ = &mut changed => {}
            }
        }
    }
}

/// One open connection of a transport, as [`Pump::drive`] uses it.
pub(crate) trait Link {
    async fn send(&mut self, chunk: flarego_proto::agent::v1::Chunk) -> Result<(), String>;
    /// The next ack. Cancel-safe: an ack is never half-read when the
    /// future is dropped.
    async fn next_ack(&mut self) -> Result<flarego_proto::agent::v1::Ack, String>;
    async fn close(&mut self);
}

/// An error with its causes, one line.
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_the_cap_with_jitter() {
        let c = UploadConfig {
            server: String::new(),
            transport: Transport::Grpc,
            token: None,
            tenant: None,
            backoff_initial: Duration::from_millis(100),
            backoff_max: Duration::from_secs(5),
            max_message_bytes: 1 << 20,
            ca_cert_pem: None,
            client_identity: None,
        };
        let d0 = backoff(&c, 0);
        assert!(d0 >= Duration::from_millis(50) && d0 < Duration::from_millis(100));
        let d3 = backoff(&c, 3);
        assert!(d3 >= Duration::from_millis(400) && d3 < Duration::from_millis(800));
        let d30 = backoff(&c, 30);
        assert!(d30 >= Duration::from_millis(2500) && d30 < Duration::from_secs(5));
    }
}

//! One WebSocket session to the server's HTTP port
//! (`/api/v1/agent/ws`): each chunk a gzipped binary message, each ack a
//! binary message back. For networks where gRPC cannot pass.

use super::{Link, Pump, UploadConfig, UploadError, UploadStats, error_chain};
use crate::outbox::Outbox;
use flarego_proto::agent::v1::{Ack, Chunk};
use flate2::Compression;
use flate2::write::GzEncoder;
use futures::{SinkExt, StreamExt};
use prost::Message as _;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio_rustls::rustls;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// The WebSocket URL of a server's HTTP address.
pub fn ws_url(server: &str) -> Result<String, String> {
    let rest = server
        .strip_prefix("http://")
        .map(|r| format!("ws://{r}"))
        .or_else(|| {
            server
                .strip_prefix("https://")
                .map(|r| format!("wss://{r}"))
        })
        .or_else(|| {
            (server.starts_with("ws://") || server.starts_with("wss://")).then(|| server.into())
        })
        .ok_or_else(|| "expected http://HOST:PORT (the server's HTTP port)".to_string())?;
    Ok(format!("{}/api/v1/agent/ws", rest.trim_end_matches('/')))
}

pub async fn session(
    config: &UploadConfig,
    outbox: &Outbox,
    stats: &UploadStats,
) -> Result<(), UploadError> {
    let server = config.server.clone();
    let address = |reason: String| UploadError::Address {
        server: server.clone(),
        reason,
    };
    let url = ws_url(&server).map_err(address)?;
    let mut request = url
        .as_str()
        .into_client_request()
        .map_err(|e| address(e.to_string()))?;
    let header = |v: String, what: &str| {
        HeaderValue::from_str(&v).map_err(|_| address(format!("{what} is not valid in a header")))
    };
    if let Some(t) = &config.token {
        let v = header(format!("Bearer {t}"), "the token")?;
        request.headers_mut().insert("authorization", v);
    }
    if let Some(t) = &config.tenant {
        let v = header(t.clone(), "the tenant")?;
        request.headers_mut().insert("x-scope-orgid", v);
    }
    let ws_config = WebSocketConfig::default().max_message_size(Some(config.max_message_bytes));
    let connector = if url.starts_with("wss://") {
        Some(tokio_tungstenite::Connector::Rustls(
            client_tls(config).map_err(address)?,
        ))
    } else {
        None
    };
    let connect =
        tokio_tungstenite::connect_async_tls_with_config(request, Some(ws_config), true, connector);
    let (socket, _) = tokio::time::timeout(Duration::from_secs(5), connect)
        .await
        .map_err(|_| UploadError::Connect {
            server: server.clone(),
            reason: "timed out after 5 s".into(),
        })?
        .map_err(|e| UploadError::Connect {
            server: server.clone(),
            reason: error_chain(&e),
        })?;
    stats.connected.store(1, Ordering::Relaxed);
    tracing::info!(server = %server, "connected (WebSocket)");
    let stream_err = |reason: String| UploadError::Stream {
        server: server.clone(),
        reason,
    };

    Pump { outbox, sent: 0 }
        .drive(&mut WsLink { socket })
        .await
        .map_err(stream_err)
}

struct WsLink<S> {
    socket: tokio_tungstenite::WebSocketStream<S>,
}

impl<S> Link for WsLink<S>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    async fn send(&mut self, chunk: Chunk) -> Result<(), String> {
        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(&chunk.encode_to_vec())
            .map_err(|e| e.to_string())?;
        let body = gz.finish().map_err(|e| e.to_string())?;
        self.socket
            .send(Message::Binary(body.into()))
            .await
            .map_err(|e| e.to_string())
    }

    async fn next_ack(&mut self) -> Result<Ack, String> {
        loop {
            match self.socket.next().await {
                Some(Ok(Message::Binary(b))) => {
                    let ack = Ack::decode(b.as_ref()).map_err(|e| format!("bad ack: {e}"))?;
                    if ack.seq == 0 {
                        return Err(format!("server refused the stream: {}", ack.error));
                    }
                    return Ok(ack);
                }
                Some(Ok(Message::Close(_))) | None => {
                    return Err("server closed the connection".into());
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.to_string()),
            }
        }
    }

    async fn close(&mut self) {
        let _ = self.socket.close(None).await;
    }
}

/// rustls settings for `wss://`: the configured CA or the system roots,
/// and the client certificate if one is set.
fn client_tls(config: &UploadConfig) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let mut roots = rustls::RootCertStore::empty();
    match &config.ca_cert_pem {
        Some(pem) => {
            for c in CertificateDer::pem_slice_iter(pem) {
                let c = c.map_err(|e| format!("CA certificate: {e}"))?;
                roots.add(c).map_err(|e| format!("CA certificate: {e}"))?;
            }
        }
        None => {
            for c in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(c);
            }
        }
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots);
    let tls = match &config.client_identity {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let certs = CertificateDer::pem_slice_iter(cert)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("client certificate: {e}"))?;
            let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| format!("client key: {e}"))?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| format!("client certificate: {e}"))?
        }
    };
    Ok(Arc::new(tls))
}

#[cfg(test)]
mod tests {
    #[test]
    fn websocket_url_of_the_http_address() {
        assert_eq!(
            super::ws_url("http://127.0.0.1:4040/").unwrap(),
            "ws://127.0.0.1:4040/api/v1/agent/ws"
        );
        assert!(super::ws_url("127.0.0.1:4040").is_err());
    }
}

//! One gRPC session: a bidi `AgentIngest/Stream`, gzip both ways, the
//! token and tenant in metadata.

use super::{Link, MAX_IN_FLIGHT, Pump, UploadConfig, UploadError, UploadStats, error_chain};
use crate::outbox::Outbox;
use flarego_proto::agent::v1::agent_ingest_client::AgentIngestClient;
use flarego_proto::agent::v1::{Ack, Chunk};
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::mpsc;
use tonic::codec::CompressionEncoding;
use tonic::metadata::MetadataValue;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

pub async fn session(
    config: &UploadConfig,
    outbox: &Outbox,
    stats: &UploadStats,
) -> Result<(), UploadError> {
    let server = config.server.clone();
    let endpoint = Endpoint::from_shared(server.clone())
        .map_err(|e| UploadError::Address {
            server: server.clone(),
            reason: e.to_string(),
        })?
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true);
    let endpoint = if server.starts_with("https://") {
        let mut tls = ClientTlsConfig::new();
        tls = match &config.ca_cert_pem {
            Some(ca) => tls.ca_certificate(Certificate::from_pem(ca)),
            None => tls.with_native_roots(),
        };
        if let Some((cert, key)) = &config.client_identity {
            tls = tls.identity(Identity::from_pem(cert, key));
        }
        endpoint.tls_config(tls).map_err(|e| UploadError::Address {
            server: server.clone(),
            reason: error_chain(&e),
        })?
    } else {
        endpoint
    };
    let channel = endpoint.connect().await.map_err(|e| UploadError::Connect {
        server: server.clone(),
        reason: error_chain(&e),
    })?;
    let mut client = AgentIngestClient::new(channel)
        .send_compressed(CompressionEncoding::Gzip)
        .accept_compressed(CompressionEncoding::Gzip)
        .max_decoding_message_size(config.max_message_bytes);

    let (tx, rx) = mpsc::channel::<Chunk>(MAX_IN_FLIGHT + 1);
    let outbound =
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) });
    let mut request = tonic::Request::new(outbound);
    let stream_err = |reason: String| UploadError::Stream {
        server: server.clone(),
        reason,
    };
    if let Some(t) = &config.token {
        let v: MetadataValue<_> = format!("Bearer {t}")
            .parse()
            .map_err(|_| stream_err("the token is not valid in a header".into()))?;
        request.metadata_mut().insert("authorization", v);
    }
    if let Some(t) = &config.tenant {
        let v: MetadataValue<_> = t
            .parse()
            .map_err(|_| stream_err(format!("tenant {t:?} is not valid in a header")))?;
        request.metadata_mut().insert("x-scope-orgid", v);
    }
    let acks = client
        .stream(request)
        .await
        .map_err(|s| stream_err(format!("{}: {}", s.code(), s.message())))?
        .into_inner();
    stats.connected.store(1, Ordering::Relaxed);
    tracing::info!(server = %server, "connected (gRPC)");

    let mut link = GrpcLink { tx, acks };
    Pump { outbox, sent: 0 }
        .drive(&mut link)
        .await
        .map_err(stream_err)
}

struct GrpcLink {
    tx: mpsc::Sender<Chunk>,
    acks: tonic::Streaming<Ack>,
}

impl Link for GrpcLink {
    async fn send(&mut self, chunk: Chunk) -> Result<(), String> {
        self.tx
            .send(chunk)
            .await
            .map_err(|_| "request stream closed".to_string())
    }

    async fn next_ack(&mut self) -> Result<Ack, String> {
        match self.acks.message().await {
            Ok(Some(ack)) => Ok(ack),
            Ok(None) => Err("server ended the stream".into()),
            Err(s) => Err(format!("{}: {}", s.code(), s.message())),
        }
    }

    /// Dropping the sender ends the request stream.
    async fn close(&mut self) {}
}

//! TLS for both listeners (rustls with the ring provider), handshaken in
//! the accept loop of [`crate::listen`] within its deadline. With a
//! client CA set, clients must present a certificate it signed (mutual
//! TLS).

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::Arc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

/// PEM material, as read from the configured files.
#[derive(Debug, Clone)]
pub struct TlsConfig {
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
    /// Require client certificates signed by this CA.
    pub client_ca_pem: Option<Vec<u8>>,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("TLS certificate: {0}")]
    Cert(String),
    #[error("TLS key: {0}")]
    Key(String),
    #[error("TLS client CA: {0}")]
    ClientCa(String),
    #[error("TLS setup: {0}")]
    Setup(String),
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Which protocols a listener offers in the TLS handshake (ALPN).
#[derive(Debug, Clone, Copy)]
pub enum Alpn {
    /// HTTP/2 and HTTP/1.1 (the API, ingest, WebSocket).
    Http,
    /// HTTP/2 only (gRPC).
    Grpc,
}

/// The acceptor of one port.
pub fn acceptor(config: &TlsConfig, alpn: Alpn) -> Result<TlsAcceptor, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&config.cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Cert(e.to_string()))?;
    if certs.is_empty() {
        return Err(TlsError::Cert("no certificate in the PEM file".into()));
    }
    let key =
        PrivateKeyDer::from_pem_slice(&config.key_pem).map_err(|e| TlsError::Key(e.to_string()))?;
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Setup(e.to_string()))?;
    let builder = match &config.client_ca_pem {
        None => builder.with_no_client_auth(),
        Some(pem) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_slice_iter(pem) {
                let c = c.map_err(|e| TlsError::ClientCa(e.to_string()))?;
                roots
                    .add(c)
                    .map_err(|e| TlsError::ClientCa(e.to_string()))?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider(),
            )
            .build()
            .map_err(|e| TlsError::ClientCa(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut server = builder
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::Key(e.to_string()))?;
    server.alpn_protocols = match alpn {
        Alpn::Http => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
        Alpn::Grpc => vec![b"h2".to_vec()],
    };
    Ok(TlsAcceptor::from(Arc::new(server)))
}

//! Accepting connections for both listeners, within limits a hostile
//! client cannot stretch.
//!
//! ```text
//! TcpListener ─▶ accept loop (one task per listener)
//!    waits for a slot first: at most `max_connections` open at once
//!    accept error (EMFILE, ENFILE, …) ─▶ logged, backs off 10 ms … 1 s, never spins
//!    TLS: handshake in its own task, within `tls_handshake_timeout`
//!  ─▶ Conn { io, slot } ─▶ HTTP: hyper, headers within `header_read_timeout`
//!                      └▶ gRPC: tonic's `serve_with_incoming`
//! ```
//!
//! The slot is given back when the connection closes. Request bodies
//! must arrive whole within `body_read_timeout` ([`crate::browser`]'s
//! sibling layer in [`crate::server`]).

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// Connection limits of one listener; `Default` gives the documented defaults.
#[derive(Debug, Clone)]
pub struct ConnLimits {
    /// A request's headers must arrive within this; on HTTP/1.1 it also
    /// closes a kept-alive connection idle for as long. Default 10 s.
    pub header_read_timeout: Duration,
    /// A request's whole body must arrive within this. Default 60 s.
    pub body_read_timeout: Duration,
    /// A TLS handshake must finish within this. Default 10 s.
    pub tls_handshake_timeout: Duration,
    /// Connections open at once; further clients wait in the kernel's
    /// accept queue. Default 1024.
    pub max_connections: usize,
    /// Live-tail subscriptions open at once; more get 503. Default 10,000.
    pub max_live_subscribers: usize,
}

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(60),
            tls_handshake_timeout: Duration::from_secs(10),
            max_connections: 1024,
            max_live_subscribers: 10_000,
        }
    }
}

/// What the accept loops count, for `/metrics`.
#[derive(Debug, Default)]
pub struct ConnCounters {
    pub accepted: AtomicU64,
    pub accept_errors: AtomicU64,
    pub handshake_failures: AtomicU64,
    pub open: AtomicU64,
}

/// A plain or TLS stream.
pub enum Io {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

/// One accepted connection, holding its slot until dropped.
pub struct Conn {
    io: Io,
    peer: SocketAddr,
    local: Option<SocketAddr>,
    _slot: Slot,
}

struct Slot {
    _permit: OwnedSemaphorePermit,
    counters: Arc<ConnCounters>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.counters.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Accepts on `listener` forever (TLS when `tls` is set) and hands over
/// each connection once ready, within `limits`.
pub fn incoming(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    limits: ConnLimits,
    counters: Arc<ConnCounters>,
) -> mpsc::Receiver<io::Result<Conn>> {
    let (tx, rx) = mpsc::channel(64);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    tokio::spawn(async move {
        let mut backoff = Duration::from_millis(10);
        loop {
            let Ok(permit) = slots.clone().acquire_owned().await else {
                return;
            };
            let (tcp, peer) = match listener.accept().await {
                Ok(c) => {
                    backoff = Duration::from_millis(10);
                    c
                }
                Err(e) => {
                    counters.accept_errors.fetch_add(1, Ordering::Relaxed);
                    // Out of descriptors or memory: wait for some to free
                    // up instead of spinning on the error.
                    tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "accept failed");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                    continue;
                }
            };
            counters.accepted.fetch_add(1, Ordering::Relaxed);
            counters.open.fetch_add(1, Ordering::Relaxed);
            let slot = Slot {
                _permit: permit,
                counters: counters.clone(),
            };
            let _ = tcp.set_nodelay(true);
            let local = tcp.local_addr().ok();
            match &tls {
                None => {
                    let conn = Conn {
                        io: Io::Plain(tcp),
                        peer,
                        local,
                        _slot: slot,
                    };
                    if tx.send(Ok(conn)).await.is_err() {
                        return;
                    }
                }
                Some(acceptor) => {
                    let (acceptor, tx, counters) = (acceptor.clone(), tx.clone(), counters.clone());
                    let deadline = limits.tls_handshake_timeout;
                    tokio::spawn(async move {
                        match tokio::time::timeout(deadline, acceptor.accept(tcp)).await {
                            Ok(Ok(stream)) => {
                                let conn = Conn {
                                    io: Io::Tls(Box::new(stream)),
                                    peer,
                                    local,
                                    _slot: slot,
                                };
                                let _ = tx.send(Ok(conn)).await;
                            }
                            Ok(Err(e)) => {
                                counters.handshake_failures.fetch_add(1, Ordering::Relaxed);
                                tracing::info!(%peer, error = %e, "TLS handshake refused");
                            }
                            Err(_) => {
                                counters.handshake_failures.fetch_add(1, Ordering::Relaxed);
                                tracing::info!(%peer, limit_ms = deadline.as_millis() as u64, "TLS handshake too slow (tls_handshake_timeout); connection closed");
                            }
                        }
                    });
                }
            }
        }
    });
    rx
}

/// Serves `app` on every connection of `conns` (HTTP/1.1 and HTTP/2,
/// WebSocket upgrades), headers within `header_read_timeout`.
pub async fn serve_http(
    mut conns: mpsc::Receiver<io::Result<Conn>>,
    app: Router,
    limits: ConnLimits,
) {
    while let Some(conn) = conns.recv().await {
        let Ok(conn) = conn else { continue };
        let app = app.clone();
        let header_timeout = limits.header_read_timeout;
        tokio::spawn(async move {
            let peer = conn.peer;
            let mut builder = auto::Builder::new(TokioExecutor::new());
            builder
                .http1()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout);
            builder
                .http2()
                .timer(TokioTimer::new())
                .keep_alive_interval(Duration::from_secs(30))
                .keep_alive_timeout(Duration::from_secs(10));
            let service = TowerToHyperService::new(app);
            if let Err(e) = builder
                .serve_connection_with_upgrades(TokioIo::new(conn), service)
                .await
            {
                tracing::debug!(%peer, error = %e, "HTTP connection ended");
            }
        });
    }
}

impl AsyncRead for Conn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match &mut self.io {
            Io::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.io {
            Io::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.io {
            Io::Plain(s) => Pin::new(s).poll_flush(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.io {
            Io::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match &mut self.io {
            Io::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match &self.io {
            Io::Plain(s) => s.is_write_vectored(),
            Io::Tls(s) => s.is_write_vectored(),
        }
    }
}

impl tonic::transport::server::Connected for Conn {
    type ConnectInfo = tonic::transport::server::TcpConnectInfo;
    fn connect_info(&self) -> Self::ConnectInfo {
        tonic::transport::server::TcpConnectInfo {
            local_addr: self.local,
            remote_addr: Some(self.peer),
        }
    }
}

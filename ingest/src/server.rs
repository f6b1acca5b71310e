//! Starting the server: bind the HTTP and gRPC listeners at once (so
//! `/health` answers), replay the WAL, then mark the server ready.

use crate::browser::BrowserPolicy;
use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::listen::{self, ConnLimits};
use crate::record::replay_decoder;
use crate::routes;
use crate::state::{AppState, Ready, SharedState};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::routing::{get, post};
use flarego_query::{QueryConfig, QueryEngine};
use flarego_storage::{Engine, StorageConfig};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use tokio::net::TcpListener;

/// Everything the server needs; `Default` gives the documented defaults.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// HTTP listener (ingest, query, UI). Default `127.0.0.1:4040`.
    pub http_addr: String,
    /// gRPC listener (agents). Default `127.0.0.1:4041`.
    pub grpc_addr: String,
    pub storage: StorageConfig,
    pub query: QueryConfig,
    pub limits: Limits,
    pub auth: crate::auth::AuthConfig,
    pub rate_limits: crate::ratelimit::RateLimits,
    /// Longest a query may run. Default 60 s.
    pub query_timeout: std::time::Duration,
    /// TLS on both listeners, when set.
    pub tls: Option<crate::tls::TlsConfig>,
    /// Timeouts and the connection cap of both listeners.
    pub connections: crate::listen::ConnLimits,
    /// Hosts and origins accepted besides loopback ones, with auth off.
    pub browser: crate::browser::BrowserPolicy,
    /// Where the web UI's files come from (built in, or `--ui-dir`).
    pub ui: crate::ui::UiSource,
    /// Alert rules and their evaluation; `dir` is set under the data
    /// directory at start.
    pub alerts: flarego_alerts::AlertsConfig,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            http_addr: "127.0.0.1:4040".into(),
            grpc_addr: "127.0.0.1:4041".into(),
            storage: StorageConfig::default(),
            query: QueryConfig::default(),
            limits: Limits::default(),
            auth: crate::auth::AuthConfig::None,
            rate_limits: crate::ratelimit::RateLimits::default(),
            query_timeout: std::time::Duration::from_secs(60),
            tls: None,
            connections: Default::default(),
            browser: Default::default(),
            ui: Default::default(),
            alerts: flarego_alerts::AlertsConfig::new(std::path::PathBuf::new()),
        }
    }
}

/// A running server: HTTP is bound; storage may still be opening.
pub struct RunningServer {
    pub http_addr: SocketAddr,
    pub grpc_addr: SocketAddr,
    pub state: SharedState,
    serve: tokio::task::JoinHandle<()>,
    opening: Option<tokio::task::JoinHandle<Result<()>>>,
}

impl RunningServer {
    /// Waits until storage is open and the WAL replayed (`/ready`).
    pub async fn ready(&mut self) -> Result<()> {
        match self.opening.take() {
            Some(h) => h
                .await
                .unwrap_or_else(|e| Err(Error::Startup(e.to_string()))),
            None => Ok(()),
        }
    }

    /// Waits until the HTTP server stops.
    pub async fn wait(self) {
        let _ = self.serve.await;
    }

    /// The engine, once ready.
    pub fn engine(&self) -> Option<Engine> {
        self.state.ready().ok().map(|r| r.engine.clone())
    }

    /// The alert engine, once ready.
    pub fn alerts(&self) -> Option<flarego_alerts::AlertEngine> {
        self.state.ready().ok().map(|r| r.alerts.clone())
    }
}

/// The HTTP routes, with every request body given its deadline and,
/// with auth off, the browser protections of [`crate::browser`].
pub fn router(
    state: SharedState,
    connections: &ConnLimits,
    browser: BrowserPolicy,
    ui: crate::ui::UiSource,
) -> Router {
    let body_limit = state.limits.max_body_bytes;
    let auth_on = state.auth.is_on();
    let routes = Router::new()
        .route("/health", get(routes::health::health))
        .route("/ready", get(routes::health::ready))
        .route("/metrics", get(routes::metrics::metrics))
        .route("/ingest", post(routes::legacy_ingest::ingest))
        .route("/push.v1.PusherService/Push", post(routes::push::push))
        .route("/api/v1/ingest", post(routes::api_ingest::ingest))
        .route("/v1development/profiles", post(routes::otlp::export))
        .route("/api/v1/query", post(routes::query::query))
        .merge(routes::read::routes())
        .merge(routes::pyroscope::routes())
        .route("/api/v1/admin/flush", post(routes::admin::flush))
        .merge(routes::alerts::routes())
        .route("/api/v1/agent/ws", get(routes::agent_ws::upgrade))
        .merge(crate::ui::routes(ui))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state);
    let routes = routes.layer(middleware::from_fn_with_state(
        connections.body_read_timeout,
        crate::body_deadline::limit,
    ));
    if auth_on {
        routes
    } else {
        routes.layer(middleware::from_fn_with_state(
            Arc::new(browser),
            crate::browser::guard,
        ))
    }
}

/// A receiver of connections as the stream tonic serves.
fn tokio_stream_of(
    rx: tokio::sync::mpsc::Receiver<std::io::Result<listen::Conn>>,
) -> impl futures::Stream<Item = std::io::Result<listen::Conn>> {
    futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) })
}

/// Binds the listener and returns; storage is opened (and the WAL
/// replayed) in the background, and `/ready` turns 200 when that is done
/// (see [`RunningServer::ready`]).
pub async fn start(mut config: ServerConfig) -> Result<RunningServer> {
    let started = Instant::now();
    config.alerts.dir = config.storage.data_dir.join("alerts");
    // A rule file that does not even parse stops the server before it
    // listens; names are checked against the data once storage is open.
    if let Some(path) = &config.alerts.rules_file {
        flarego_alerts::rules::precheck(path, &config.alerts.default_tenant)?;
    }
    let listener = TcpListener::bind(&config.http_addr)
        .await
        .map_err(|source| Error::Bind {
            addr: config.http_addr.clone(),
            source,
        })?;
    let http_addr = listener.local_addr().map_err(|source| Error::Bind {
        addr: config.http_addr.clone(),
        source,
    })?;
    let grpc_listener = TcpListener::bind(&config.grpc_addr)
        .await
        .map_err(|source| Error::Bind {
            addr: config.grpc_addr.clone(),
            source,
        })?;
    let grpc_addr = grpc_listener.local_addr().map_err(|source| Error::Bind {
        addr: config.grpc_addr.clone(),
        source,
    })?;
    let mut app_state = AppState::new(
        config.limits.clone(),
        config.auth.clone(),
        config.rate_limits.clone(),
    );
    app_state.query_timeout = config.query_timeout;
    app_state.max_live_subscribers = config.connections.max_live_subscribers;
    let state: SharedState = Arc::new(app_state);
    let app = router(
        state.clone(),
        &config.connections,
        config.browser.clone(),
        config.ui.clone(),
    );
    let (https, grpc_tls) = match &config.tls {
        Some(tls) => (
            Some(
                crate::tls::acceptor(tls, crate::tls::Alpn::Http)
                    .map_err(|e| Error::Tls(e.to_string()))?,
            ),
            Some(
                crate::tls::acceptor(tls, crate::tls::Alpn::Grpc)
                    .map_err(|e| Error::Tls(e.to_string()))?,
            ),
        ),
        None => (None, None),
    };
    let limits = config.connections.clone();
    let http_conns = listen::incoming(listener, https, limits.clone(), state.http_conns.clone());
    let grpc_conns = listen::incoming(
        grpc_listener,
        grpc_tls,
        limits.clone(),
        state.grpc_conns.clone(),
    );
    let grpc = tonic::transport::Server::builder()
        .http2_keepalive_interval(Some(std::time::Duration::from_secs(30)))
        .http2_keepalive_timeout(Some(std::time::Duration::from_secs(10)))
        .add_service(crate::grpc::service(state.clone()))
        .add_service(crate::grpc::query::service(state.clone()))
        .add_service(crate::grpc::otlp::service(state.clone()))
        .add_service(crate::grpc::flight_sql::service(state.clone()))
        .serve_with_incoming(tokio_stream_of(grpc_conns));
    let serve = tokio::spawn(async move {
        tokio::select! {
            _ = listen::serve_http(http_conns, app, limits) => {
                tracing::error!("HTTP server stopped");
            },
            r = grpc => if let Err(e) = r {
                tracing::error!(error = %e, "gRPC server stopped");
            },
        }
    });
    tracing::info!(http = %http_addr, grpc = %grpc_addr, tls = config.tls.is_some(), "listening");

    let opening = {
        let state = state.clone();
        tokio::spawn(async move {
            let engine = Engine::open(config.storage.clone(), Arc::new(replay_decoder)).await?;
            let query = QueryEngine::new(engine.clone(), config.query.clone())?;
            let alerts = flarego_alerts::AlertEngine::start(
                query.clone(),
                config.alerts.clone(),
                Arc::new(flarego_alerts::SystemClock),
            )
            .await?;
            alerts.spawn();
            let replayed = engine
                .stats()
                .replayed_records
                .load(std::sync::atomic::Ordering::Relaxed);
            state.set_ready(Ready {
                engine,
                query,
                alerts,
            });
            tracing::info!(
                data_dir = %config.storage.data_dir.display(),
                replayed_records = replayed,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "ready"
            );
            Ok(())
        })
    };
    Ok(RunningServer {
        http_addr,
        grpc_addr,
        state,
        serve,
        opening: Some(opening),
    })
}

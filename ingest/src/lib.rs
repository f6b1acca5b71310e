//! # flarego-ingest
//!
//! The FlareGo server: HTTP ingest (Pyroscope-compatible), decoders and
//! validation, and the SQL API.
//!
//! ```text
//! POST /ingest, /push.v1.PusherService/Push, /api/v1/ingest      routes/
//!   └─ read_body (max_body_bytes, gzip ≤ max_decompressed_bytes)
//!   └─ IngestRecord { tenant, params, raw parts }                 record.rs
//!        └─ decode (pprof.rs, folded.rs, push.rs; Limits) ─▶ WriteBatch
//!        └─ Engine::write(record bytes → WAL, batch → hot) ─▶ 2xx
//! POST /api/v1/query ─▶ QueryEngine::sql ─▶ JSON rows | Arrow IPC  routes/query.rs
//! GET /health, /ready, /metrics; POST /api/v1/admin/flush
//! GET /, /assets/* ─▶ the web UI (ui/dist built in, or --ui-dir)   ui.rs
//! ```
//!
//! The WAL keeps the [`record::IngestRecord`] (raw bytes as sent plus the
//! parameters that read them); on restart
//! [`record::replay_decoder`] decodes it again into the same rows. The
//! server binds first and replays after ([`server::start`]), so `/health`
//! answers at once and `/ready` when the WAL is replayed.

pub mod agent_chunks;
pub mod auth;
pub mod body_deadline;
pub mod browser;
pub mod decode;
pub mod error;
pub mod grpc;
pub mod limits;
pub mod listen;
pub mod ratelimit;
pub mod record;
pub mod routes;
pub mod server;
pub mod state;
pub mod tls;
pub mod ui;

pub use error::{ApiError, Error, Result};
pub use flarego_alerts::{AlertEngine, AlertsConfig};
pub use limits::Limits;
pub use server::{RunningServer, ServerConfig, start};

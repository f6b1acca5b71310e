//! The gRPC services: the one agents stream to
//! (`agent.v1.AgentIngest/Stream`, here), the read API
//! (`flarego.query.v1.QueryService`, [`query`]), Arrow Flight SQL
//! ([`flight_sql`]) and OTLP profiles (`ProfilesService/Export`,
//! [`otlp`]).
//!
//! Each inbound chunk, as the bytes that came ([`raw`]), goes through
//! [`crate::agent_chunks::receive`] in the order it arrives, and its `Ack`
//! is sent back once the chunk is in the WAL (or known to be a resend, or
//! refused as bad input). gzip is accepted and used for replies when the
//! agent offers it. The tenant is the `x-scope-orgid` metadata entry, as
//! on HTTP.

pub mod flight_sql;
pub mod otlp;
pub mod query;
pub mod raw;

use crate::agent_chunks::receive;
use crate::auth::Permission;
use crate::error::ApiError;
use crate::state::SharedState;
use bytes::Bytes;
use flarego_proto::agent::v1::Ack;
use futures::Stream;
use raw::{ChunkStream, RawAgentServer};
use std::pin::Pin;
use std::sync::atomic::Ordering;
use tokio::sync::mpsc;
use tonic::codegen::BoxFuture;
use tonic::{Request, Response, Status, Streaming};

/// Acks waiting to be sent per stream; the reader waits when it is full.
const ACK_QUEUE: usize = 64;

pub struct AgentIngestService {
    state: SharedState,
}

/// The service, with gzip and the message size limit (`max_body_bytes`).
pub fn service(state: SharedState) -> RawAgentServer<AgentIngestService> {
    let limit = state.limits.max_body_bytes;
    RawAgentServer::new(AgentIngestService { state }, limit)
}

pub fn status_of(e: ApiError) -> Status {
    match e {
        ApiError::NotReady => Status::unavailable(e.to_string()),
        ApiError::Unavailable { message, .. } => Status::unavailable(message),
        ApiError::BadRequest(m) | ApiError::UnsupportedMediaType(m) => Status::invalid_argument(m),
        ApiError::PayloadTooLarge(m) => Status::resource_exhausted(m),
        ApiError::RequestTimeout(m) => Status::deadline_exceeded(m),
        ApiError::TooManyRequests(m) => Status::resource_exhausted(m),
        ApiError::RateLimited { message, .. } => Status::resource_exhausted(message),
        ApiError::Unauthorized => Status::unauthenticated(e.to_string()),
        ApiError::Forbidden(m) => Status::permission_denied(m),
        ApiError::NotFound(m) => Status::not_found(m),
        ApiError::NotImplemented(m) => Status::unimplemented(m),
        ApiError::Internal(m) => {
            tracing::error!(error = %m, "agent stream failed");
            Status::internal("internal error")
        }
    }
}

type AckStream = Pin<Box<dyn Stream<Item = Result<Ack, Status>> + Send>>;

impl ChunkStream for AgentIngestService {
    type Acks = AckStream;

    fn stream(&self, request: Request<Streaming<Bytes>>) -> BoxFuture<Response<AckStream>, Status> {
        let state = self.state.clone();
        Box::pin(async move {
            let headers = request.metadata().clone().into_headers();
            let principal = state
                .auth
                .authorize(&headers, Permission::Ingest)
                .map_err(status_of)?;
            state.ready().map_err(status_of)?;
            let mut inbound = request.into_inner();
            state.counters.agent_streams.fetch_add(1, Ordering::Relaxed);
            let (tx, rx) = mpsc::channel::<Result<Ack, Status>>(ACK_QUEUE);
            tokio::spawn(async move {
                loop {
                    let raw = match inbound.message().await {
                        Ok(Some(c)) => c,
                        Ok(None) => break,
                        Err(status) => {
                            // A frame over the size limit, say: the agent
                            // is told why its stream ended.
                            tracing::info!(%status, "agent stream ended by a bad frame");
                            let _ = tx.send(Err(status)).await;
                            break;
                        }
                    };
                    let reply = receive(&state, &principal, raw).await.map_err(status_of);
                    // An error, or a message that was not even a chunk, ends
                    // the stream once answered.
                    let failed = reply
                        .as_ref()
                        .map_or(true, |ack| ack.seq == 0 && !ack.error.is_empty());
                    if tx.send(reply).await.is_err() || failed {
                        break;
                    }
                }
            });
            let acks = futures::stream::unfold(rx, |mut rx| async move {
                rx.recv().await.map(|ack| (ack, rx))
            });
            Ok(Response::new(Box::pin(acks) as AckStream))
        })
    }
}

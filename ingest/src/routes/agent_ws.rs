//! `GET /api/v1/agent/ws`: the agent transport for networks that only
//! pass HTTP/1.1. Same chunks and acks as the gRPC stream: each binary
//! message is an `agent.v1.Chunk` (gzipped or not), answered by a binary
//! `agent.v1.Ack` once it is in the WAL. The upgrade request carries the
//! token (`Authorization: Bearer`) or, with auth off, `X-Scope-OrgID`.

use crate::agent_chunks::receive;
use crate::auth::{Permission, Principal};
use crate::decode::gzip::gunzip;
use crate::error::ApiError;
use crate::state::SharedState;
use axum::extract::State;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;
use flarego_proto::agent::v1::Ack;
use prost::Message as _;
use std::sync::atomic::Ordering;

pub async fn upgrade(
    State(state): State<SharedState>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let principal = state.auth.authorize(&headers, Permission::Ingest)?;
    state.ready()?;
    let limit = state.limits.max_body_bytes;
    Ok(ws
        .max_message_size(limit)
        .on_upgrade(move |socket| serve(socket, state, principal)))
}

async fn serve(mut socket: WebSocket, state: SharedState, principal: Principal) {
    state.counters.agent_streams.fetch_add(1, Ordering::Relaxed);
    while let Some(msg) = socket.recv().await {
        let bytes = match msg {
            Ok(Message::Binary(b)) => b,
            Ok(Message::Close(_)) | Err(_) => break,
            Ok(_) => continue,
        };
        let ack = match inflate(&state, bytes) {
            Ok(raw) => match receive(&state, &principal, raw).await {
                Ok(ack) => ack,
                Err(e) => {
                    tracing::warn!(error = %e, "agent WebSocket closed");
                    let _ = socket.send(Message::Close(None)).await;
                    break;
                }
            },
            Err(reason) => {
                state
                    .counters
                    .ingest_rejected
                    .fetch_add(1, Ordering::Relaxed);
                Ack {
                    error: reason,
                    ..Default::default()
                }
            }
        };
        // Not even a chunk: no sequence to ack, so say why and close.
        let refused_unread = ack.seq == 0 && !ack.error.is_empty();
        if socket
            .send(Message::Binary(ack.encode_to_vec().into()))
            .await
            .is_err()
            || refused_unread
        {
            break;
        }
    }
}

/// A message's chunk bytes, inflated when gzipped (charged while it
/// inflates, given back once inflated: the chunk is charged again whole).
fn inflate(state: &SharedState, bytes: Bytes) -> Result<Bytes, String> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(bytes);
    }
    let mut charge = state.memory_charge();
    gunzip(&bytes, "agent chunk", &state.limits, &mut charge)
        .map(Bytes::from)
        .map_err(|e| e.to_string())
}

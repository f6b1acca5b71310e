//! Receiving an agent's chunk, whatever the transport (gRPC or
//! WebSocket): log it once per (agent, sequence) and say how it went.
//!
//! ```text
//! Chunk ─▶ decode_chunk (Limits) ─▶ IngestRecord{AgentChunk, raw} ─▶ Engine::write_once
//!   stored            ─▶ Ack { seq }
//!   stored before     ─▶ Ack { seq, duplicate }
//!   bad input         ─▶ Ack { seq, error }        (never stored; the agent drops it)
//!   server not ready, rate limited ─▶ Err: the agent reconnects and resends
//! ```

use crate::auth::Principal;
use crate::error::ApiError;
use crate::record::{IngestRecord, Source, decode_chunk};
use crate::routes::now_ns;
use crate::state::AppState;
use flarego_proto::agent::v1::{Ack, Chunk};
use prost::Message;
use std::sync::atomic::Ordering;

/// Stores `chunk` for the caller's tenant unless it was stored before;
/// over a rate limit the stream ends (the agent backs off and resends).
pub async fn receive(
    state: &AppState,
    principal: &Principal,
    chunk: Chunk,
) -> Result<Ack, ApiError> {
    let ready = state.ready()?;
    state.limiter.ingest_request(principal)?;
    let raw = chunk.encode_to_vec();
    state.limiter.ingest_bytes(principal, raw.len())?;
    let c = &state.counters;
    c.agent_chunks.fetch_add(1, Ordering::Relaxed);
    let mut ack = Ack {
        agent_id: chunk.agent_id.clone(),
        seq: chunk.seq,
        duplicate: false,
        error: String::new(),
    };
    let batch = match decode_chunk(
        &chunk,
        &principal.tenant,
        ready.engine.stacks(),
        &state.limits,
    ) {
        Ok(b) => b,
        Err(e) => {
            c.ingest_rejected.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(agent = %chunk.agent_id, seq = chunk.seq, error = %e, "agent chunk refused");
            ack.error = e.to_string();
            return Ok(ack);
        }
    };
    let rows = batch.sample_rows();
    let payload = IngestRecord {
        tenant: principal.tenant.clone(),
        received_ns: now_ns(),
        source: Source::AgentChunk,
        parts: vec![raw],
    }
    .encode();
    let logged = payload.len() as u64;
    match ready.engine.write_once(payload, batch).await? {
        Some(_) => {
            c.ingest_bytes.fetch_add(logged, Ordering::Relaxed);
            c.ingest_rows.fetch_add(rows as u64, Ordering::Relaxed);
        }
        None => {
            c.agent_duplicates.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(agent = %chunk.agent_id, seq = chunk.seq, "resent chunk already stored");
            ack.duplicate = true;
        }
    }
    Ok(ack)
}

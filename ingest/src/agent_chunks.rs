//! Receiving an agent's chunk, whatever the transport (gRPC or
//! WebSocket): log it once per (agent, sequence) and say how it went.
//!
//! ```text
//! bytes ─▶ parse_chunk (counted on the wire, charged) ─▶ decode_chunk (Limits)
//!       ─▶ IngestRecord{AgentChunk, the bytes as sent} ─▶ Engine::write_once
//!   stored            ─▶ Ack { seq }
//!   stored before     ─▶ Ack { seq, duplicate }
//!   bad input         ─▶ Ack { seq, error }        (never stored; the agent drops it)
//!   server not ready, rate limited, busy ─▶ Err: the agent reconnects and resends
//! ```

use crate::auth::Principal;
use crate::decode::DecodeError;
use crate::decode::chunk::parse_chunk;
use crate::error::ApiError;
use crate::record::{IngestRecord, Source, decode_chunk};
use crate::routes::now_ns;
use crate::state::AppState;
use bytes::Bytes;
use flarego_proto::agent::v1::Ack;
use flarego_storage::blocking;
use std::sync::atomic::Ordering;

/// Stores the chunk in `raw` for the caller's tenant unless it was stored
/// before; over a rate limit or the server's decode memory the stream
/// ends (the agent backs off and resends).
pub async fn receive(state: &AppState, principal: &Principal, raw: Bytes) -> Result<Ack, ApiError> {
    let ready = state.ready()?;
    state.limiter.ingest_request(principal)?;
    state.limiter.ingest_bytes(principal, raw.len())?;
    let c = &state.counters;
    c.agent_chunks.fetch_add(1, Ordering::Relaxed);
    let mut charge = state.memory_charge();
    let refuse = |e: DecodeError, ack: Ack| -> Result<Ack, ApiError> {
        if let DecodeError::ServerBusy { .. } = e {
            return Err(e.into());
        }
        c.ingest_rejected.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(agent = %ack.agent_id, seq = ack.seq, error = %e, "agent chunk refused");
        Ok(Ack {
            error: e.to_string(),
            ..ack
        })
    };
    let chunk = match blocking(|| parse_chunk(&raw, &state.limits, &mut charge)) {
        Ok(chunk) => chunk,
        // Not even a chunk: no sequence to ack.
        Err(e) => return refuse(e, Ack::default()),
    };
    let ack = Ack {
        agent_id: chunk.agent_id.clone(),
        seq: chunk.seq,
        duplicate: false,
        error: String::new(),
    };
    let received_ns = now_ns();
    let decoded = blocking(|| {
        decode_chunk(
            &chunk,
            &principal.tenant,
            received_ns,
            ready.engine.stacks(),
            &state.limits,
            &mut charge,
        )
    });
    let batch = match decoded {
        Ok(b) => b,
        Err(e) => return refuse(e, ack),
    };
    drop(chunk);
    let rows = batch.sample_rows();
    let payload = IngestRecord {
        tenant: principal.tenant.clone(),
        received_ns,
        source: Source::AgentChunk,
        parts: vec![raw.to_vec()],
    }
    .encode();
    let logged = payload.len() as u64;
    match ready.engine.write_once(payload, batch).await? {
        Some(_) => {
            c.ingest_bytes.fetch_add(logged, Ordering::Relaxed);
            c.ingest_rows.fetch_add(rows as u64, Ordering::Relaxed);
            Ok(ack)
        }
        None => {
            c.agent_duplicates.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(agent = %ack.agent_id, seq = ack.seq, "resent chunk already stored");
            Ok(Ack {
                duplicate: true,
                ..ack
            })
        }
    }
}

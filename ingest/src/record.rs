//! The WAL payload of an ingest request, and how it becomes rows.
//!
//! The WAL keeps what the client sent (the raw, possibly gzipped profile
//! bytes) plus the parameters that interpret it, including the time the
//! server received it. [`IngestRecord::decode`] turns a record into a
//! [`WriteBatch`]; it runs once before the write is logged (to validate)
//! and again on replay, with the same result.
//!
//! Layout: `[u32 header length][header JSON][u32 part length][part]...`.

use crate::decode::budget::MemoryCharge;
use crate::decode::chunk::{add_chunk, parse_chunk};
use crate::decode::folded::add_folded;
use crate::decode::otlp::{add_otlp, admit_otlp};
use crate::decode::pprof::{ProfileContext, add_profile, parse_profile};
use crate::decode::push::{add_push, admit_push};
use crate::decode::types::ProfileHint;
use crate::decode::{Batcher, DecodeError, DecodeResult};
use crate::limits::Limits;
use flarego_proto::agent::v1::Chunk;
use flarego_proto::opentelemetry::proto::collector::profiles::v1development::ExportProfilesServiceRequest;
use flarego_proto::push::v1::PushRequest;
use flarego_storage::{Sequenced, SeriesKey, StackTable, TenantId, WriteBatch};
use prost::Message;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Current header version.
const VERSION: u32 = 1;

/// What kind of payload a record holds and how to read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// A pprof profile (`parts[0]`), optionally with the previous profile
    /// of a cumulative series (`parts[1]`).
    Pprof {
        service: String,
        instance: String,
        labels: BTreeMap<String, String>,
        /// `block`, `mutex` or empty.
        hint: String,
        time_ns: Option<i64>,
        #[serde(default)]
        renames: HashMap<String, String>,
    },
    /// Folded stacks (`parts[0]`) as one series.
    Folded {
        service: String,
        instance: String,
        labels: BTreeMap<String, String>,
        profile_type: String,
        unit: String,
        /// Each value is multiplied by this (CPU samples → nanoseconds).
        scale: i64,
        time_ns: Option<i64>,
    },
    /// A protobuf `PushRequest` (`parts[0]`).
    Push,
    /// An agent's window, a protobuf `agent.v1.Chunk` (`parts[0]`).
    AgentChunk,
    /// An OTLP `ExportProfilesServiceRequest` (`v1development`), protobuf
    /// (`parts[0]`).
    Otlp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Header {
    v: u32,
    tenant: String,
    received_ns: i64,
    source: Source,
}

/// One ingest request as logged.
#[derive(Debug, Clone, PartialEq)]
pub struct IngestRecord {
    pub tenant: TenantId,
    pub received_ns: i64,
    pub source: Source,
    pub parts: Vec<Vec<u8>>,
}

impl IngestRecord {
    pub fn encode(&self) -> Vec<u8> {
        let header = Header {
            v: VERSION,
            tenant: self.tenant.0.clone(),
            received_ns: self.received_ns,
            source: self.source.clone(),
        };
        // Serializing plain data to JSON cannot fail.
        let h = serde_json::to_vec(&header).unwrap_or_default();
        let size = 4 + h.len() + self.parts.iter().map(|p| 4 + p.len()).sum::<usize>();
        let mut out = Vec::with_capacity(size);
        out.extend_from_slice(&(h.len() as u32).to_le_bytes());
        out.extend_from_slice(&h);
        for p in &self.parts {
            out.extend_from_slice(&(p.len() as u32).to_le_bytes());
            out.extend_from_slice(p);
        }
        out
    }

    pub fn parse(data: &[u8]) -> Result<IngestRecord, String> {
        let mut parts = Vec::new();
        let mut rest = data;
        let take = |rest: &mut &[u8]| -> Result<Vec<u8>, String> {
            if rest.len() < 4 {
                return Err("truncated record".into());
            }
            let n = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            if rest.len() < 4 + n {
                return Err("truncated record part".into());
            }
            let part = rest[4..4 + n].to_vec();
            *rest = &rest[4 + n..];
            Ok(part)
        };
        let header = take(&mut rest)?;
        let header: Header = serde_json::from_slice(&header).map_err(|e| e.to_string())?;
        if header.v != VERSION {
            return Err(format!("unknown record version {}", header.v));
        }
        while !rest.is_empty() {
            parts.push(take(&mut rest)?);
        }
        Ok(IngestRecord {
            tenant: TenantId(header.tenant),
            received_ns: header.received_ns,
            source: header.source,
            parts,
        })
    }

    /// The rows this record stands for, validated against `limits`; what
    /// decoding allocates is charged to `charge` first.
    pub fn decode(
        &self,
        stacks: &StackTable,
        limits: &Limits,
        charge: &mut MemoryCharge,
    ) -> DecodeResult<WriteBatch> {
        if let Source::AgentChunk = &self.source {
            let raw = self
                .parts
                .first()
                .ok_or_else(|| DecodeError::BadRequest("record lacks part 0".into()))?;
            let chunk = parse_chunk(raw, limits, charge)?;
            return decode_chunk(
                &chunk,
                &self.tenant,
                self.received_ns,
                stacks,
                limits,
                charge,
            );
        }
        let mut out = Batcher::new(stacks, charge);
        let part = |i: usize| -> DecodeResult<&[u8]> {
            self.parts
                .get(i)
                .map(Vec::as_slice)
                .ok_or_else(|| DecodeError::BadRequest(format!("record lacks part {i}")))
        };
        match &self.source {
            Source::Pprof {
                service,
                instance,
                labels,
                hint,
                time_ns,
                renames,
            } => {
                let profile = parse_profile(part(0)?, "profile", limits, out.charge())?;
                let prev = match self.parts.get(1) {
                    Some(p) if !p.is_empty() => {
                        Some(parse_profile(p, "prev_profile", limits, out.charge())?)
                    }
                    _ => None,
                };
                let ctx = ProfileContext {
                    tenant: self.tenant.clone(),
                    service: service.clone(),
                    instance: instance.clone(),
                    labels: labels.clone(),
                    hint: ProfileHint::from_name(hint),
                    time_ns: *time_ns,
                    fallback_time_ns: self.received_ns,
                    renames: renames.clone(),
                };
                add_profile(&profile, prev.as_ref(), &ctx, limits, &mut out)?;
            }
            Source::Folded {
                service,
                instance,
                labels,
                profile_type,
                unit,
                scale,
                time_ns,
            } => {
                let key = SeriesKey {
                    tenant: self.tenant.clone(),
                    service: service.clone(),
                    instance: instance.clone(),
                    profile_type: profile_type.clone(),
                    unit: unit.clone(),
                    state: None,
                    labels: labels.clone(),
                };
                let t = time_ns.unwrap_or(self.received_ns);
                add_folded(part(0)?, key, t, *scale, limits, &mut out)?;
            }
            Source::Push => {
                let raw = part(0)?;
                admit_push(raw, out.charge())?;
                let req = PushRequest::decode(raw).map_err(|e| {
                    DecodeError::BadRequest(format!("push request is not a valid PushRequest: {e}"))
                })?;
                add_push(&req, &self.tenant, self.received_ns, limits, &mut out)?;
            }
            Source::Otlp => {
                let raw = part(0)?;
                admit_otlp(raw, out.charge())?;
                let req = ExportProfilesServiceRequest::decode(raw).map_err(|e| {
                    DecodeError::BadRequest(format!(
                        "OTLP profiles: the body is not a valid ExportProfilesServiceRequest: {e}"
                    ))
                })?;
                add_otlp(&req, &self.tenant, self.received_ns, limits, &mut out)?;
            }
            // Read whole above, with its own numbering.
            Source::AgentChunk => {
                return Err(DecodeError::BadRequest(
                    "an agent chunk is decoded by decode_chunk".into(),
                ));
            }
        }
        out.finish(limits, self.received_ns)
    }
}

/// The rows of an agent chunk, numbered by (tenant, agent, sequence) so a
/// resend is stored once. Live ingest calls it on the chunk it already
/// holds; [`IngestRecord::decode`] on the chunk read back from the WAL.
pub fn decode_chunk(
    chunk: &Chunk,
    tenant: &TenantId,
    received_ns: i64,
    stacks: &StackTable,
    limits: &Limits,
    charge: &mut MemoryCharge,
) -> DecodeResult<WriteBatch> {
    let mut out = Batcher::new(stacks, charge);
    add_chunk(chunk, tenant, limits, &mut out)?;
    let mut batch = out.finish(limits, received_ns)?;
    batch.sequence = Some(Sequenced {
        source: format!("{tenant}/{}", chunk.agent_id),
        seq: chunk.seq,
    });
    Ok(batch)
}

/// Decodes a WAL payload on replay (no limits: it was accepted once).
pub fn replay_decoder(payload: &[u8], stacks: &StackTable) -> Result<WriteBatch, String> {
    let rec = IngestRecord::parse(payload)?;
    rec.decode(stacks, &Limits::unlimited(), &mut MemoryCharge::unlimited())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trips() {
        let r = IngestRecord {
            tenant: TenantId("acme".into()),
            received_ns: 42,
            source: Source::Folded {
                service: "api".into(),
                instance: "i-1".into(),
                labels: BTreeMap::from([("env".into(), "prod".into())]),
                profile_type: "cpu".into(),
                unit: "nanoseconds".into(),
                scale: 10,
                time_ns: Some(7),
            },
            parts: vec![b"main;work 3\n".to_vec(), vec![]],
        };
        let back = IngestRecord::parse(&r.encode()).unwrap();
        assert_eq!(back, r);
        let stacks = StackTable::default();
        let batch = back
            .decode(&stacks, &Limits::default(), &mut MemoryCharge::unlimited())
            .unwrap();
        assert_eq!(batch.series.len(), 1);
        assert_eq!(batch.series[0].samples[0].1, 30);
        assert_eq!(batch.stacks.len(), 1);
    }

    #[test]
    fn agent_chunks_replay_like_they_were_taken() {
        use flarego_proto::agent::v1::GoroutineGroup;
        let chunk = Chunk {
            agent_id: "a".into(),
            seq: 1,
            window_start_ns: 10,
            window_ns: 10,
            service: "api".into(),
            goroutines: vec![GoroutineGroup {
                state: "select".into(),
                frames: vec!["main.main".into()],
                count: 2,
            }],
            ..Default::default()
        };
        let r = IngestRecord {
            tenant: TenantId("t".into()),
            received_ns: 99,
            source: Source::AgentChunk,
            parts: vec![chunk.encode_to_vec()],
        };
        let back = IngestRecord::parse(&r.encode()).unwrap();
        let batch = replay_decoder(&back.encode(), &StackTable::default()).unwrap();
        assert_eq!(batch.series[0].key.state.as_deref(), Some("select"));
        assert_eq!(batch.series[0].samples[0].1, 2);
        assert_eq!(batch.series[0].time_ns, 10);
    }
}

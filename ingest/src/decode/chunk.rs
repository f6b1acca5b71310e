//! An agent's window chunk (`agent.v1.Chunk`) into rows: its pprof
//! profiles through the pprof decoder, its goroutine groups as
//! `goroutine` rows with `state`, its metrics as metric points.

use super::Batcher;
use super::budget::MemoryCharge;
use super::error::{DecodeError, DecodeResult};
use super::labels::{check_label, check_label_count, check_value};
use super::pprof::{ProfileContext, add_profile, parse_profile};
use super::types::ProfileHint;
use super::wire::{Fields, Value};
use crate::limits::Limits;
use flarego_proto::agent::v1::{Chunk, GoroutineGroup, MetricPoint as ProtoMetric, PprofProfile};
use flarego_storage::{MetricKey, MetricPoint, SeriesKey, TenantId};
use prost::Message;
use std::collections::{BTreeMap, HashMap};
use std::mem::size_of;

/// Decodes an encoded `agent.v1.Chunk` after charging what it will take:
/// its parts are counted on the wire first (an empty goroutine group is 2
/// bytes there and 56 in memory).
pub fn parse_chunk(raw: &[u8], limits: &Limits, charge: &mut MemoryCharge) -> DecodeResult<Chunk> {
    let bad =
        |reason: String| DecodeError::BadRequest(format!("not a valid agent.v1.Chunk: {reason}"));
    if raw.len() > limits.max_decompressed_bytes {
        return Err(DecodeError::DecompressedTooLarge {
            what: "agent chunk".into(),
            limit: limits.max_decompressed_bytes,
        });
    }
    let mut bytes = raw.len();
    let mut items = 0usize;
    for f in Fields::new(raw) {
        match f.map_err(bad)? {
            (7, _) => items += 2,
            (8, _) => bytes += size_of::<PprofProfile>(),
            (9, Value::Bytes(g)) => {
                bytes += size_of::<GoroutineGroup>();
                for f in Fields::new(g) {
                    if let (2, _) = f.map_err(bad)? {
                        items += 1;
                    }
                }
            }
            (10, Value::Bytes(m)) => {
                bytes += size_of::<ProtoMetric>();
                for f in Fields::new(m) {
                    if let (4, _) = f.map_err(bad)? {
                        items += 2;
                    }
                }
            }
            _ => {}
        }
    }
    // Strings: the bytes above plus a header each; ×2 while vectors grow.
    charge.charge("agent chunk", (bytes + items * size_of::<String>()) * 2)?;
    Chunk::decode(raw).map_err(|e| bad(e.to_string()))
}

/// Adds every row of `chunk` to `out`, filed under the chunk's window.
pub fn add_chunk(
    chunk: &Chunk,
    tenant: &TenantId,
    limits: &Limits,
    out: &mut Batcher<'_>,
) -> DecodeResult<()> {
    if chunk.agent_id.is_empty() || chunk.seq == 0 {
        return Err(DecodeError::BadRequest(format!(
            "chunk has agent id {:?} and sequence {}: both must be set (sequences start at 1)",
            chunk.agent_id, chunk.seq
        )));
    }
    check_value("agent id", &chunk.agent_id, limits)?;
    if chunk.service.is_empty() {
        return Err(DecodeError::BadRequest(format!(
            "chunk {} of agent {:?} has no service",
            chunk.seq, chunk.agent_id
        )));
    }
    check_value("service", &chunk.service, limits)?;
    check_value("instance", &chunk.instance, limits)?;
    let labels: BTreeMap<String, String> = chunk
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (k, v) in &labels {
        check_label(k, v, limits)?;
    }
    check_label_count(&labels, limits)?;
    let time = chunk.window_start_ns;

    for (i, p) in chunk.profiles.iter().enumerate() {
        let what = format!("chunk profile {i} ({})", p.kind);
        let profile = parse_profile(&p.pprof, &what, limits, out.charge())?;
        let mut profile_labels = labels.clone();
        if !p.source.is_empty() {
            check_label("source", &p.source, limits)?;
            profile_labels.insert("source".into(), p.source.clone());
        }
        let ctx = ProfileContext {
            tenant: tenant.clone(),
            service: chunk.service.clone(),
            instance: chunk.instance.clone(),
            labels: profile_labels,
            hint: ProfileHint::from_name(&p.kind),
            time_ns: Some(time),
            fallback_time_ns: time,
            renames: HashMap::new(),
        };
        add_profile(&profile, None, &ctx, limits, out)?;
    }

    // Goroutines: one series per state, one row per stack.
    let mut per_state: BTreeMap<&str, Vec<(flarego_storage::StackId, i64)>> = BTreeMap::new();
    for g in &chunk.goroutines {
        if g.frames.len() > limits.max_stack_depth {
            return Err(DecodeError::StackTooDeep {
                depth: g.frames.len(),
                limit: limits.max_stack_depth,
            });
        }
        check_value("goroutine state", &g.state, limits)?;
        let frames: Vec<&str> = g.frames.iter().map(String::as_str).collect();
        let stack = out.stack(&frames)?;
        let count = i64::try_from(g.count).unwrap_or(i64::MAX);
        per_state
            .entry(g.state.as_str())
            .or_default()
            .push((stack, count));
    }
    for (state, samples) in per_state {
        out.push_series(
            time,
            SeriesKey {
                tenant: tenant.clone(),
                service: chunk.service.clone(),
                instance: chunk.instance.clone(),
                profile_type: "goroutine".into(),
                unit: "count".into(),
                state: Some(state.to_string()),
                labels: labels.clone(),
            },
            samples,
        );
    }

    for m in &chunk.metrics {
        check_value("metric name", &m.name, limits)?;
        let mut l = labels.clone();
        for (k, v) in &m.labels {
            check_label(k, v, limits)?;
            l.insert(k.clone(), v.clone());
        }
        check_label_count(&l, limits)?;
        out.push_metric(MetricPoint {
            time_ns: if m.time_ns > 0 { m.time_ns } else { time },
            key: MetricKey {
                tenant: tenant.clone(),
                service: chunk.service.clone(),
                instance: chunk.instance.clone(),
                name: m.name.clone(),
                labels: l,
            },
            value: m.value,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use flarego_proto::agent::v1::{GoroutineGroup, MetricPoint as ProtoMetric, PprofProfile};
    use flarego_proto::pprof::{Function, Line, Location, Profile, Sample, ValueType};
    use flarego_storage::StackTable;
    use prost::Message;

    fn mutex_profile() -> Vec<u8> {
        Profile {
            string_table: vec![
                "".into(),
                "contentions".into(),
                "count".into(),
                "delay".into(),
                "nanoseconds".into(),
                "main.lockHeld".into(),
            ],
            sample_type: vec![
                ValueType { r#type: 1, unit: 2 },
                ValueType { r#type: 3, unit: 4 },
            ],
            function: vec![Function {
                id: 1,
                name: 5,
                ..Default::default()
            }],
            location: vec![Location {
                id: 1,
                line: vec![Line {
                    function_id: 1,
                    line: 3,
                    column: 0,
                }],
                ..Default::default()
            }],
            sample: vec![Sample {
                location_id: vec![1],
                value: vec![2, 700],
                label: vec![],
            }],
            ..Default::default()
        }
        .encode_to_vec()
    }

    #[test]
    fn chunk_becomes_goroutine_profile_and_metric_rows() {
        let chunk = Chunk {
            agent_id: "a1".into(),
            seq: 4,
            window_start_ns: 1_700_000_000_000_000_000,
            window_ns: 10_000_000_000,
            service: "api".into(),
            instance: "pod-1".into(),
            labels: [("env".to_string(), "prod".to_string())].into(),
            profiles: vec![PprofProfile {
                kind: "mutex".into(),
                pprof: mutex_profile(),
                source: "pprof".into(),
            }],
            goroutines: vec![
                GoroutineGroup {
                    state: "chan receive".into(),
                    frames: vec!["main.main".into(), "main.waitOnChan".into()],
                    count: 25,
                },
                GoroutineGroup {
                    state: "sleep".into(),
                    frames: vec!["main.nap".into(), "time.Sleep".into()],
                    count: 3,
                },
            ],
            metrics: vec![ProtoMetric {
                name: "go_gc_pause_ns".into(),
                value: 1234.0,
                time_ns: 0,
                labels: Default::default(),
            }],
        };
        let stacks = StackTable::default();
        let mut charge = MemoryCharge::unlimited();
        let mut out = Batcher::new(&stacks, &mut charge);
        add_chunk(
            &chunk,
            &TenantId::default_tenant(),
            &Limits::default(),
            &mut out,
        )
        .unwrap();
        let b = out
            .finish(&Limits::default(), chunk.window_start_ns)
            .unwrap();
        let by_type: BTreeMap<(String, Option<String>), i64> = b
            .series
            .iter()
            .map(|s| {
                (
                    (s.key.profile_type.clone(), s.key.state.clone()),
                    s.samples.iter().map(|x| x.1).sum(),
                )
            })
            .collect();
        assert_eq!(
            by_type[&("goroutine".to_string(), Some("chan receive".to_string()))],
            25
        );
        assert_eq!(
            by_type[&("goroutine".to_string(), Some("sleep".to_string()))],
            3
        );
        assert_eq!(by_type[&("mutex_delay".to_string(), None)], 700);
        assert!(
            b.series
                .iter()
                .all(|s| s.time_ns == chunk.window_start_ns && s.key.labels["env"] == "prod")
        );
        assert_eq!(b.metrics.len(), 1);
        assert_eq!(b.metrics[0].time_ns, chunk.window_start_ns);
        assert_eq!(b.metrics[0].key.name, "go_gc_pause_ns");
    }

    #[test]
    fn chunk_parts_are_charged_before_they_are_built() {
        // 10,000 empty goroutine groups: 20,000 bytes on the wire.
        let raw: Vec<u8> = std::iter::repeat_n([0x4au8, 0x00], 10_000)
            .flatten()
            .collect();
        let mut charge = MemoryCharge::new(100_000, None);
        let e = parse_chunk(&raw, &Limits::default(), &mut charge).unwrap_err();
        assert!(e.to_string().contains("max_request_memory_bytes"), "{e}");
        let mut roomy = MemoryCharge::unlimited();
        let chunk = parse_chunk(&raw, &Limits::default(), &mut roomy).unwrap();
        assert_eq!(chunk.goroutines.len(), 10_000);
        assert!(roomy.used() >= 10_000 * size_of::<GoroutineGroup>());
    }

    #[test]
    fn chunk_without_service_is_refused() {
        let stacks = StackTable::default();
        let mut charge = MemoryCharge::unlimited();
        let mut out = Batcher::new(&stacks, &mut charge);
        let numbered = Chunk {
            agent_id: "a".into(),
            seq: 1,
            ..Default::default()
        };
        let e = add_chunk(
            &numbered,
            &TenantId::default_tenant(),
            &Limits::default(),
            &mut out,
        )
        .unwrap_err();
        assert!(e.to_string().contains("no service"), "{e}");
    }

    #[test]
    fn chunk_without_agent_or_sequence_is_refused() {
        let stacks = StackTable::default();
        let mut charge = MemoryCharge::unlimited();
        let mut out = Batcher::new(&stacks, &mut charge);
        let unnumbered = Chunk {
            agent_id: "a".into(),
            service: "api".into(),
            ..Default::default()
        };
        let e = add_chunk(
            &unnumbered,
            &TenantId::default_tenant(),
            &Limits::default(),
            &mut out,
        )
        .unwrap_err();
        assert!(e.to_string().contains("sequences start at 1"), "{e}");
    }
}

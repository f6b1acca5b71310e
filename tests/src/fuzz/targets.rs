//! The decoders fuzzed, each as a function of one input, and their seeds:
//! real captures (Go 1.19's `net/http/pprof` profiles and goroutine dump
//! under `tests/data/`) and inputs built from them the way each client
//! sends them.

use super::mutate;
use flarego_ingest::Limits;
use flarego_ingest::auth::{Claims, JwtConfig, Role, Verifier};
use flarego_ingest::decode::budget::MemoryCharge;
use flarego_ingest::decode::labels::parse_app_name;
use flarego_ingest::decode::push::{admit_push_json, push_from_json};
use flarego_ingest::record::{IngestRecord, Source};
use flarego_proto::agent::v1::{Chunk, GoroutineGroup, MetricPoint, PprofProfile};
use flarego_proto::push::v1::{PushRequest, RawProfileSeries, RawSample};
use flarego_proto::types::v1::LabelPair;
use flarego_storage::{StackTable, TenantId};
use prost::Message;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// The limits every fuzzed input is decoded under: small enough that a
/// breach shows at once.
pub fn fuzz_limits() -> Limits {
    Limits {
        max_body_bytes: 1 << 20,
        max_decompressed_bytes: 4 << 20,
        max_request_memory_bytes: 16 << 20,
        // Seeds keep their capture dates; time limits are tested elsewhere.
        max_time_ahead: std::time::Duration::MAX,
        max_time_behind: std::time::Duration::MAX,
        ..Limits::default()
    }
}

/// Decodes one input; true when it was accepted.
pub type Decoder = Box<dyn Fn(&[u8]) -> bool + Send + Sync>;

/// One decoder under test.
pub struct Target {
    pub name: &'static str,
    pub seeds: Vec<Vec<u8>>,
    /// Makes an input from the seeds.
    pub mutate: fn(&mut rand::rngs::StdRng, &[Vec<u8>]) -> Vec<u8>,
    pub run: Decoder,
}

/// A fixed receive time inside the seeds' dates.
const RECEIVED_NS: i64 = 1_700_000_000_000_000_000;
const SECRET: &[u8] = b"fuzzing-secret-of-at-least-32-bytes!!";

fn decode(source: Source, parts: Vec<Vec<u8>>, stacks: &StackTable) -> bool {
    let rec = IngestRecord {
        tenant: TenantId::default_tenant(),
        received_ns: RECEIVED_NS,
        source,
        parts,
    };
    let limits = fuzz_limits();
    let mut charge = MemoryCharge::new(limits.max_request_memory_bytes, None);
    rec.decode(stacks, &limits, &mut charge).is_ok()
}

fn pprof_source() -> Source {
    Source::Pprof {
        service: "fuzz".into(),
        instance: String::new(),
        labels: BTreeMap::new(),
        hint: String::new(),
        time_ns: None,
        renames: HashMap::new(),
    }
}

/// Every target, with its seeds read from `data` (`tests/data`).
pub fn targets(data: &Path) -> anyhow::Result<Vec<Target>> {
    let mut profiles = Vec::new();
    let mut dir: Vec<_> = std::fs::read_dir(data.join("fuzz"))?.flatten().collect();
    dir.sort_by_key(|e| e.file_name());
    for e in dir {
        if e.file_name().to_string_lossy().ends_with(".pb.gz") {
            let gz = std::fs::read(e.path())?;
            let mut raw = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gz.as_slice()), &mut raw)?;
            profiles.push((e.file_name().to_string_lossy().into_owned(), gz, raw));
        }
    }
    anyhow::ensure!(
        !profiles.is_empty(),
        "no seed profiles under {}",
        data.join("fuzz").display()
    );
    let dump = std::fs::read_to_string(data.join("goroutines-debug2-go1.19.txt"))?;
    let census = flarego_agent::census::Census::of(&flarego_agent::goroutines::parse(&dump)?);
    let folded: String = census
        .stacks
        .iter()
        .map(|((_, frames), n)| format!("{} {n}\n", frames.join(";")))
        .collect();

    let push = PushRequest {
        series: profiles
            .iter()
            .map(|(name, gz, _)| RawProfileSeries {
                labels: vec![
                    LabelPair {
                        name: "__name__".into(),
                        value: name.split('-').nth(1).unwrap_or("cpu").into(),
                    },
                    LabelPair {
                        name: "service_name".into(),
                        value: "fuzz".into(),
                    },
                    LabelPair {
                        name: "env".into(),
                        value: "prod".into(),
                    },
                ],
                samples: vec![RawSample {
                    raw_profile: gz.clone(),
                    id: String::new(),
                }],
            })
            .collect(),
    };
    let b64 = |b: &[u8]| base64::Engine::encode(&base64::engine::general_purpose::STANDARD, b);
    let push_json = serde_json::json!({
        "series": push.series.iter().map(|s| serde_json::json!({
            "labels": s.labels.iter().map(|l| serde_json::json!({"name": l.name, "value": l.value})).collect::<Vec<_>>(),
            "samples": s.samples.iter().map(|p| serde_json::json!({"rawProfile": b64(&p.raw_profile)})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>()
    })
    .to_string()
    .into_bytes();
    let chunk = Chunk {
        agent_id: "fuzz/1".into(),
        seq: 1,
        window_start_ns: RECEIVED_NS,
        window_ns: 10_000_000_000,
        service: "fuzz".into(),
        instance: "host".into(),
        labels: [("env".to_string(), "prod".to_string())].into(),
        profiles: profiles
            .iter()
            .take(3)
            .map(|(name, gz, _)| PprofProfile {
                kind: name.clone(),
                pprof: gz.clone(),
                source: "pprof".into(),
            })
            .collect(),
        goroutines: census
            .stacks
            .iter()
            .map(|((state, frames), n)| GoroutineGroup {
                state: state.clone(),
                frames: frames.clone(),
                count: *n,
            })
            .collect(),
        metrics: vec![MetricPoint {
            name: "go_heap_inuse_bytes".into(),
            value: 1e6,
            time_ns: 0,
            labels: Default::default(),
        }],
    };
    let multipart = {
        let mut body = Vec::new();
        for (field, bytes) in [
            ("profile", &profiles[0].1),
            (
                "sample_type_config",
                &br#"{"inuse_space":{"display-name":"x"}}"#.to_vec(),
            ),
        ] {
            body.extend_from_slice(format!("--XBOUNDARY\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{field}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes());
            body.extend_from_slice(bytes);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"--XBOUNDARY--\r\n");
        body
    };
    let claims = |role| Claims {
        tenant: "acme".into(),
        role,
        scope: None,
        exp: 4_000_000_000,
        nbf: None,
        iat: None,
        iss: Some("fuzz".into()),
        aud: None,
        sub: None,
        jti: Some("t1".into()),
    };
    let tokens: Vec<Vec<u8>> = [Role::Reader, Role::Admin, Role::Agent]
        .into_iter()
        .map(|r| crate::auth::hs256(&claims(r), SECRET).map(String::into_bytes))
        .collect::<anyhow::Result<_>>()?;
    let verifier = Verifier::new(&JwtConfig {
        hs256_secret: Some(SECRET.to_vec()),
        issuer: Some("fuzz".into()),
        leeway_secs: 60,
        ..Default::default()
    })?;

    let gz: Vec<Vec<u8>> = profiles.iter().map(|p| p.1.clone()).collect();
    let raw: Vec<Vec<u8>> = profiles.iter().map(|p| p.2.clone()).collect();
    let stacks = std::sync::Arc::new(StackTable::default());
    let (s1, s2, s3, s4) = (stacks.clone(), stacks.clone(), stacks.clone(), stacks);
    Ok(vec![
        Target {
            name: "pprof",
            mutate: mutate::mutate,
            seeds: gz.into_iter().chain(raw).collect(),
            run: Box::new(move |b| decode(pprof_source(), vec![b.to_vec(), Vec::new()], &s1)),
        },
        Target {
            name: "push",
            seeds: vec![push.encode_to_vec()],
            mutate: mutate::mutate_push,
            run: Box::new(move |b| decode(Source::Push, vec![b.to_vec()], &s2)),
        },
        Target {
            name: "push-json",
            mutate: mutate::mutate,
            seeds: vec![push_json],
            run: Box::new(move |b| {
                let limits = fuzz_limits();
                let mut charge = MemoryCharge::new(limits.max_request_memory_bytes, None);
                admit_push_json(b, &mut charge).is_ok() && push_from_json(b).is_ok()
            }),
        },
        Target {
            name: "folded",
            mutate: mutate::mutate,
            seeds: vec![folded.into_bytes(), b"main;a;b 10\nmain;c 5\n".to_vec()],
            run: Box::new(move |b| {
                let source = Source::Folded {
                    service: "fuzz".into(),
                    instance: String::new(),
                    labels: BTreeMap::new(),
                    profile_type: "cpu".into(),
                    unit: "nanoseconds".into(),
                    scale: 10_000_000,
                    time_ns: None,
                };
                decode(source, vec![b.to_vec()], &s3)
            }),
        },
        Target {
            name: "agent-chunk",
            seeds: vec![chunk.encode_to_vec()],
            mutate: mutate::mutate_chunk,
            run: Box::new(move |b| decode(Source::AgentChunk, vec![b.to_vec()], &s4)),
        },
        Target {
            name: "legacy-name",
            mutate: mutate::mutate,
            seeds: vec![
                b"api.cpu{env=prod,region=eu-1,instance=host-7}".to_vec(),
                b"app.inuse_space".to_vec(),
            ],
            run: Box::new(|b| parse_app_name(&String::from_utf8_lossy(b), &fuzz_limits()).is_ok()),
        },
        Target {
            name: "legacy-multipart",
            mutate: mutate::mutate,
            seeds: vec![multipart],
            run: Box::new(|b| {
                let body = bytes::Bytes::copy_from_slice(b);
                futures::executor::block_on(flarego_ingest::routes::legacy_ingest::parse_multipart(
                    "multipart/form-data; boundary=XBOUNDARY",
                    body,
                ))
                .is_ok()
            }),
        },
        Target {
            name: "jwt",
            mutate: mutate::mutate,
            seeds: tokens,
            run: Box::new(move |b| verifier.verify(&String::from_utf8_lossy(b)).is_ok()),
        },
    ])
}

//! Pyroscope's `push.v1.PusherService/Push`: series of label pairs, each
//! with raw pprof profiles.

use super::Batcher;
use super::budget::MemoryCharge;
use super::error::{DecodeError, DecodeResult};
use super::labels::{check_label, check_label_count, check_value};
use super::pprof::{ProfileContext, add_profile, parse_profile};
use super::types::ProfileHint;
use super::wire::{Fields, Value};
use crate::limits::Limits;
use base64::Engine as _;
use flarego_proto::push::v1::{PushRequest, RawProfileSeries, RawSample};
use flarego_proto::types::v1::LabelPair;
use flarego_storage::TenantId;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};

/// Labels with a meaning of their own; the rest become `labels`.
const NAME_LABEL: &str = "__name__";
const SERVICE_LABEL: &str = "service_name";
const INSTANCE_LABELS: [&str; 2] = ["instance", "hostname"];

/// Charges what decoding an encoded `PushRequest` takes, counted on the
/// wire before `prost` builds it.
pub fn admit_push(raw: &[u8], charge: &mut MemoryCharge) -> DecodeResult<()> {
    let bad = |reason: String| {
        DecodeError::BadRequest(format!("push request is not a valid PushRequest: {reason}"))
    };
    let mut bytes = raw.len();
    for f in Fields::new(raw) {
        if let (1, Value::Bytes(series)) = f.map_err(bad)? {
            bytes += std::mem::size_of::<RawProfileSeries>();
            for f in Fields::new(series) {
                match f.map_err(bad)? {
                    (1, _) => bytes += std::mem::size_of::<LabelPair>(),
                    (2, _) => bytes += std::mem::size_of::<RawSample>(),
                    _ => {}
                }
            }
        }
    }
    charge.charge("push request", bytes * 2)
}

/// Charges what parsing a JSON push request may take before `serde_json`
/// builds it: each object and string at its size in memory, and the
/// protobuf form it is turned into.
pub fn admit_push_json(body: &[u8], charge: &mut MemoryCharge) -> DecodeResult<()> {
    let objects = body.iter().filter(|b| **b == b'{').count();
    let strings = body.iter().filter(|b| **b == b'"').count() / 2;
    let estimate = body.len() * 3 + objects * 96 + strings * std::mem::size_of::<String>();
    charge.charge("push request (JSON)", estimate)
}

/// Adds every profile of the request to `out`.
pub fn add_push(
    req: &PushRequest,
    tenant: &TenantId,
    received_ns: i64,
    limits: &Limits,
    out: &mut Batcher<'_>,
) -> DecodeResult<()> {
    for (si, series) in req.series.iter().enumerate() {
        let mut name = String::new();
        let mut service = None;
        let mut instance = None;
        let mut labels = BTreeMap::new();
        for LabelPair { name: k, value: v } in &series.labels {
            check_label(k, v, limits)?;
            match k.as_str() {
                NAME_LABEL => name = v.clone(),
                SERVICE_LABEL => service = Some(v.clone()),
                k if INSTANCE_LABELS.contains(&k) && instance.is_none() => {
                    instance = Some(v.clone())
                }
                _ if k.starts_with("__") => {} // Pyroscope-internal (e.g. __delta__)
                _ => {
                    labels.insert(k.clone(), v.clone());
                }
            }
        }
        check_label_count(&labels, limits)?;
        let service = service.unwrap_or_else(|| "unknown_service".into());
        check_value(SERVICE_LABEL, &service, limits)?;
        let ctx = ProfileContext {
            tenant: tenant.clone(),
            service,
            instance: instance.unwrap_or_default(),
            labels,
            hint: ProfileHint::from_name(&name),
            time_ns: None,
            fallback_time_ns: received_ns,
            renames: HashMap::new(),
        };
        for (pi, sample) in series.samples.iter().enumerate() {
            let what = format!("series[{si}].samples[{pi}].raw_profile");
            let profile = parse_profile(&sample.raw_profile, &what, limits, out.charge())?;
            add_profile(&profile, None, &ctx, limits, out)?;
        }
    }
    Ok(())
}

/// The JSON form of a push request (proto3 JSON mapping).
#[derive(Debug, Deserialize)]
struct JsonPush {
    #[serde(default)]
    series: Vec<JsonSeries>,
}

#[derive(Debug, Deserialize)]
struct JsonSeries {
    #[serde(default)]
    labels: Vec<JsonLabel>,
    #[serde(default)]
    samples: Vec<JsonSample>,
}

#[derive(Debug, Deserialize)]
struct JsonLabel {
    #[serde(default)]
    name: String,
    #[serde(default)]
    value: String,
}

#[derive(Debug, Deserialize)]
struct JsonSample {
    #[serde(default, alias = "raw_profile")]
    #[serde(rename = "rawProfile")]
    raw_profile: String,
    #[serde(default, rename = "ID", alias = "id")]
    id: String,
}

/// Parses the JSON form into the protobuf message.
pub fn push_from_json(body: &[u8]) -> DecodeResult<PushRequest> {
    let j: JsonPush = serde_json::from_slice(body)
        .map_err(|e| DecodeError::BadRequest(format!("push request is not valid JSON: {e}")))?;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut series = Vec::with_capacity(j.series.len());
    for (si, s) in j.series.into_iter().enumerate() {
        let mut samples = Vec::with_capacity(s.samples.len());
        for (pi, p) in s.samples.into_iter().enumerate() {
            let raw = b64.decode(p.raw_profile.as_bytes()).map_err(|e| {
                DecodeError::BadRequest(format!(
                    "series[{si}].samples[{pi}].rawProfile is not base64: {e}"
                ))
            })?;
            samples.push(RawSample {
                raw_profile: raw,
                id: p.id,
            });
        }
        series.push(RawProfileSeries {
            labels: s
                .labels
                .into_iter()
                .map(|l| LabelPair {
                    name: l.name,
                    value: l.value,
                })
                .collect(),
            samples,
        });
    }
    Ok(PushRequest { series })
}

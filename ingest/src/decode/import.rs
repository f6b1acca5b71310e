//! Imported snapshots: an `.fgo` document or a pprof profile, each
//! gzipped or not, turned into an `.fgo` document within the same limits
//! as ingest (`max_decompressed_bytes` stops a gzip bomb, the request's
//! memory charge covers the parse, `max_samples` and `max_stack_depth`
//! apply to pprof).
//!
//! An `.fgo` is kept byte for byte (after the checks); a pprof becomes a
//! document of one profile type (the one asked for, else the one pprof
//! shows by default) with its flame tree and per-function table.

use super::Batcher;
use super::budget::MemoryCharge;
use super::error::{DecodeError, DecodeResult};
use super::gzip::maybe_gunzip;
use super::pprof::{ProfileContext, add_profile, default_profile_type, parse_profile};
use super::types::ProfileHint;
use crate::limits::Limits;
use flarego_query::read::export::fgo::{Fgo, SelectionDoc, rfc3339};
use flarego_query::read::stacks::StackValues;
use flarego_storage::{Frames, StackId, StackTable, TenantId};
use std::collections::HashMap;

/// JSON parsing holds about this many times the document's size.
const JSON_OVERHEAD: usize = 4;

/// What to import.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// For a pprof: the profile type to keep (FlareGo's names).
    pub profile_type: Option<String>,
    /// For a pprof: `block` or `mutex`, telling their sample types apart.
    pub kind: Option<String>,
}

/// A document ready to store: parsed, and its JSON as it will be kept.
pub struct Imported {
    pub doc: Fgo,
    pub json: Vec<u8>,
}

/// Decodes an upload into a document.
pub fn import(
    body: &[u8],
    opts: &ImportOptions,
    limits: &Limits,
    charge: &mut MemoryCharge,
) -> DecodeResult<Imported> {
    let data = maybe_gunzip(body, "upload", limits, charge)?;
    let first = data.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'{') {
        charge.charge(".fgo document", data.len().saturating_mul(JSON_OVERHEAD))?;
        let doc = Fgo::parse(&data).map_err(|e| DecodeError::BadRequest(e.to_string()))?;
        return Ok(Imported {
            doc,
            json: data.into_owned(),
        });
    }
    from_pprof(&data, opts, limits, charge)
}

fn from_pprof(
    data: &[u8],
    opts: &ImportOptions,
    limits: &Limits,
    charge: &mut MemoryCharge,
) -> DecodeResult<Imported> {
    let profile = parse_profile(
        data,
        "upload (neither an .fgo document nor a pprof profile)",
        limits,
        charge,
    )?;
    let hint = opts
        .kind
        .as_deref()
        .map(ProfileHint::from_name)
        .unwrap_or(ProfileHint::None);
    let wanted = match &opts.profile_type {
        Some(t) => t.clone(),
        None => default_profile_type(&profile, hint)?,
    };
    let from = profile.time_nanos;
    let to = from.saturating_add(profile.duration_nanos.max(0));
    let table = StackTable::default();
    let batch = {
        let mut out = Batcher::new(&table, charge);
        let ctx = ProfileContext {
            tenant: TenantId::default_tenant(),
            service: String::new(),
            instance: String::new(),
            labels: Default::default(),
            hint,
            time_ns: Some(from),
            fallback_time_ns: from,
            renames: HashMap::new(),
        };
        add_profile(&profile, None, &ctx, limits, &mut out)?;
        // Times do not apply: a snapshot is not filed under its time.
        out.finish_untimed(limits)?
    };
    let frames: HashMap<StackId, &Frames> = batch.stacks.iter().map(|(id, f)| (*id, f)).collect();
    let mut unit = String::new();
    let mut sums: HashMap<StackId, i64> = HashMap::new();
    let mut types: Vec<&str> = Vec::new();
    for s in &batch.series {
        if !types.contains(&s.key.profile_type.as_str()) {
            types.push(&s.key.profile_type);
        }
        if s.key.profile_type != wanted {
            continue;
        }
        unit = s.key.unit.clone();
        for (id, v) in &s.samples {
            let e = sums.entry(*id).or_default();
            *e = e.saturating_add(*v);
        }
    }
    if sums.is_empty() && !types.is_empty() {
        return Err(DecodeError::BadParam {
            param: "profile_type".into(),
            reason: format!(
                "the profile has no {wanted:?} values; it has {}",
                types.join(", ")
            ),
        });
    }
    let mut stacks: Vec<(Vec<std::sync::Arc<str>>, i64)> = sums
        .into_iter()
        .filter_map(|(id, v)| frames.get(&id).map(|f| (f.to_vec(), v)))
        .collect();
    stacks.sort();
    let doc = Fgo::from_stacks(
        &StackValues { unit, stacks },
        &wanted,
        SelectionDoc {
            query: "{}".into(),
            from: rfc3339(from),
            to: rfc3339(to),
            focus: None,
            ignore: None,
            hide: None,
        },
        "pprof",
    );
    let json = serde_json::to_vec(&doc).map_err(|e| DecodeError::BadRequest(e.to_string()))?;
    Ok(Imported { doc, json })
}

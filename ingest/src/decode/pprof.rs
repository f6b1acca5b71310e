//! pprof → rows: one series per (sample type, label set), values summed
//! per stack, frames root first.

use super::Batcher;
use super::budget::MemoryCharge;
use super::error::{DecodeError, DecodeResult};
use super::gzip::maybe_gunzip;
use super::labels::{check_label, check_label_count};
use super::pprof_scan;
use super::types::{ProfileHint, map_sample_type};
use crate::limits::Limits;
use flarego_proto::pprof::Profile;
use flarego_storage::{KeyedHash, SeriesKey, StackId, TenantId};
use prost::Message;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

/// Where a profile comes from and what to call it.
#[derive(Debug, Clone)]
pub struct ProfileContext {
    pub tenant: TenantId,
    pub service: String,
    pub instance: String,
    pub labels: BTreeMap<String, String>,
    pub hint: ProfileHint,
    /// Time to file the profile under; `None` uses the profile's
    /// `time_nanos`, else `fallback_time_ns`.
    pub time_ns: Option<i64>,
    pub fallback_time_ns: i64,
    /// Renames of sample types (`sample_type_config` display names).
    pub renames: HashMap<String, String>,
}

/// Parses raw (or gzipped) pprof bytes: inflated within the limits,
/// counted on the wire and charged to `charge` before `prost` builds it.
pub fn parse_profile(
    raw: &[u8],
    what: &str,
    limits: &Limits,
    charge: &mut MemoryCharge,
) -> DecodeResult<Profile> {
    let data = maybe_gunzip(raw, what, limits, charge)?;
    pprof_scan::admit(&data, what, limits, charge)?;
    Profile::decode(data.as_ref()).map_err(|e| DecodeError::BadPprof {
        what: what.to_string(),
        reason: e.to_string(),
    })
}

/// Adds the rows of `profile` to `out`. With `prev`, cumulative sample
/// types are turned into the difference `profile - prev`.
pub fn add_profile(
    profile: &Profile,
    prev: Option<&Profile>,
    ctx: &ProfileContext,
    limits: &Limits,
    out: &mut Batcher<'_>,
) -> DecodeResult<()> {
    let table = StringTable::new(profile)?;
    let period_type = match &profile.period_type {
        Some(p) => table.get(p.r#type)?,
        None => "",
    };
    let mut types = Vec::with_capacity(profile.sample_type.len());
    for st in &profile.sample_type {
        let kind = table.get(st.r#type)?;
        let kind = ctx.renames.get(kind).map(String::as_str).unwrap_or(kind);
        types.push(map_sample_type(
            kind,
            table.get(st.unit)?,
            period_type,
            ctx.hint,
        ));
    }
    if profile.sample.len() > limits.max_samples {
        return Err(DecodeError::TooManySamples {
            count: profile.sample.len(),
            limit: limits.max_samples,
        });
    }
    let time = ctx
        .time_ns
        .or((profile.time_nanos > 0).then_some(profile.time_nanos))
        .unwrap_or(ctx.fallback_time_ns);

    let (label_sets, mut sums) = collect(profile, &table, ctx, limits, out)?;
    if let Some(prev) = prev {
        let prev_table = StringTable::new(prev)?;
        let (prev_sets, prev_sums) = collect(prev, &prev_table, ctx, limits, out)?;
        let set_of: HashMap<&BTreeMap<String, String>, u32> = label_sets
            .iter()
            .enumerate()
            .map(|(i, l)| (l, i as u32))
            .collect();
        for ((prev_set, stack), values) in prev_sums {
            let Some(set) = set_of.get(&prev_sets[prev_set as usize]) else {
                continue;
            };
            if let Some(cur) = sums.get_mut(&(*set, stack)) {
                for (i, v) in values.iter().enumerate() {
                    if let Some(c) = cur.get_mut(i)
                        && types.get(i).is_some_and(|t| is_cumulative(&t.0))
                    {
                        *c = c.saturating_sub(*v);
                    }
                }
            }
        }
    }

    // One series per (label set, sample type).
    let mut series: SeriesRows = BTreeMap::new();
    for ((set, stack), values) in sums {
        for (i, v) in values.into_iter().enumerate() {
            if v != 0 && i < types.len() {
                series.entry((set, i)).or_default().push((stack, v));
            }
        }
    }
    for ((set, i), samples) in series {
        let labels = label_sets[set as usize].clone();
        let (profile_type, unit) = types[i].clone();
        out.push_series(
            time,
            SeriesKey {
                tenant: ctx.tenant.clone(),
                service: ctx.service.clone(),
                instance: ctx.instance.clone(),
                profile_type,
                unit,
                state: None,
                labels,
            },
            samples,
        );
    }
    Ok(())
}

/// The profile type of the sample type pprof shows by default: the one
/// `default_sample_type` names, else the last.
pub fn default_profile_type(profile: &Profile, hint: ProfileHint) -> DecodeResult<String> {
    let table = StringTable::new(profile)?;
    let period_type = match &profile.period_type {
        Some(p) => table.get(p.r#type)?,
        None => "",
    };
    let named = (profile.default_sample_type != 0).then(|| table.get(profile.default_sample_type));
    let st = match named.transpose()? {
        Some(name) => profile
            .sample_type
            .iter()
            .find(|st| table.get(st.r#type).ok() == Some(name)),
        None => profile.sample_type.last(),
    };
    let st = st.ok_or_else(|| DecodeError::BadPprof {
        what: "profile".into(),
        reason: "it has no sample types".into(),
    })?;
    Ok(map_sample_type(
        table.get(st.r#type)?,
        table.get(st.unit)?,
        period_type,
        hint,
    )
    .0)
}

/// Samples of each (label set, sample type index).
type SeriesRows = BTreeMap<(u32, usize), Vec<(StackId, i64)>>;

/// Values per (label set, stack).
type Sums = HashMap<(u32, StackId), Vec<i64>, KeyedHash>;

/// Label sets, and values per (label set, stack); stacks registered in
/// the batcher.
fn collect(
    profile: &Profile,
    table: &StringTable<'_>,
    ctx: &ProfileContext,
    limits: &Limits,
    out: &mut Batcher<'_>,
) -> DecodeResult<(Vec<BTreeMap<String, String>>, Sums)> {
    let locations = location_frames(profile, table)?;
    // Label sets are interned by their (key, value) string indexes, so
    // unlabelled samples (the common case) cost no map work.
    let mut label_ids: HashMap<Vec<(i64, i64)>, u32> = HashMap::new();
    let mut label_sets: Vec<BTreeMap<String, String>> = Vec::new();
    let mut sums: Sums = HashMap::default();
    let mut frames: Vec<&str> = Vec::with_capacity(64);
    let mut pairs: Vec<(i64, i64)> = Vec::new();
    let mut stack_locations: Vec<&Vec<Cow<'_, str>>> = Vec::with_capacity(64);
    for s in &profile.sample {
        // Depth first, from the line counts: a stack over the limit is
        // refused before any of its frames is expanded.
        stack_locations.clear();
        let mut depth = 0usize;
        for id in s.location_id.iter().rev() {
            let Some(names) = locations.get(id) else {
                return Err(DecodeError::BadPprof {
                    what: "profile".into(),
                    reason: format!("sample refers to unknown location {id}"),
                });
            };
            depth = depth.saturating_add(names.len());
            stack_locations.push(names);
        }
        if depth > limits.max_stack_depth {
            return Err(DecodeError::StackTooDeep {
                depth,
                limit: limits.max_stack_depth,
            });
        }
        frames.clear();
        for names in &stack_locations {
            frames.extend(names.iter().rev().map(|n| n.as_ref()));
        }
        let stack = out.stack(&frames)?;
        // Numeric labels (such as object sizes) are not series labels.
        pairs.clear();
        pairs.extend(
            s.label
                .iter()
                .filter(|l| l.str != 0)
                .map(|l| (l.key, l.str)),
        );
        let set = match label_ids.get(&pairs) {
            Some(id) => *id,
            None => {
                let mut labels = ctx.labels.clone();
                for (k, v) in &pairs {
                    let (k, v) = (table.get(*k)?, table.get(*v)?);
                    check_label(k, v, limits)?;
                    labels.insert(k.to_string(), v.to_string());
                }
                check_label_count(&labels, limits)?;
                let id = label_sets.len() as u32;
                label_sets.push(labels);
                label_ids.insert(pairs.clone(), id);
                id
            }
        };
        let e = sums
            .entry((set, stack))
            .or_insert_with(|| vec![0; s.value.len()]);
        for (i, v) in s.value.iter().enumerate() {
            if let Some(slot) = e.get_mut(i) {
                *slot = slot.saturating_add(*v);
            } else {
                e.push(*v);
            }
        }
    }
    Ok((label_sets, sums))
}

/// Frame names of each location, innermost first (pprof order).
fn location_frames<'a>(
    profile: &'a Profile,
    table: &StringTable<'a>,
) -> DecodeResult<HashMap<u64, Vec<Cow<'a, str>>>> {
    let mut functions: HashMap<u64, &str> = HashMap::with_capacity(profile.function.len());
    for f in &profile.function {
        functions.insert(f.id, table.get(f.name)?);
    }
    let mappings: HashMap<u64, &str> = profile
        .mapping
        .iter()
        .map(|m| Ok((m.id, table.get(m.filename)?)))
        .collect::<DecodeResult<_>>()?;
    let mut locations: HashMap<u64, Vec<Cow<'a, str>>> =
        HashMap::with_capacity(profile.location.len());
    for loc in &profile.location {
        let mut names = Vec::with_capacity(loc.line.len().max(1));
        for line in &loc.line {
            match functions.get(&line.function_id) {
                Some(n) => names.push(Cow::Borrowed(*n)),
                None => {
                    return Err(DecodeError::BadPprof {
                        what: "profile".into(),
                        reason: format!(
                            "location {} refers to unknown function {}",
                            loc.id, line.function_id
                        ),
                    });
                }
            }
        }
        if names.is_empty() {
            // Not symbolized: keep the address (and module), never drop it.
            let module = mappings
                .get(&loc.mapping_id)
                .map(|m| m.rsplit('/').next().unwrap_or(m))
                .filter(|m| !m.is_empty());
            names.push(Cow::Owned(match module {
                Some(m) => format!("{m}+0x{:x}", loc.address),
                None => format!("0x{:x}", loc.address),
            }));
        }
        locations.insert(loc.id, names);
    }
    Ok(locations)
}

/// Sample types that count since process start (Go's allocs, block, mutex).
fn is_cumulative(profile_type: &str) -> bool {
    profile_type.starts_with("alloc_")
        || profile_type.starts_with("block_")
        || profile_type.starts_with("mutex_")
}

/// Bounds-checked access to a profile's string table.
struct StringTable<'a> {
    strings: &'a [String],
}

impl<'a> StringTable<'a> {
    fn new(p: &'a Profile) -> DecodeResult<Self> {
        if p.string_table.first().is_some_and(|s| !s.is_empty()) {
            return Err(DecodeError::BadPprof {
                what: "profile".into(),
                reason: "string_table[0] must be the empty string".into(),
            });
        }
        Ok(StringTable {
            strings: &p.string_table,
        })
    }

    fn get(&self, i: i64) -> DecodeResult<&'a str> {
        if i == 0 {
            return Ok("");
        }
        usize::try_from(i)
            .ok()
            .and_then(|i| self.strings.get(i))
            .map(String::as_str)
            .ok_or_else(|| DecodeError::BadPprof {
                what: "profile".into(),
                reason: format!(
                    "string index {i} is outside the string table ({} entries)",
                    self.strings.len()
                ),
            })
    }
}

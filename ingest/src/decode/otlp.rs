//! OTLP profiles (`v1development`, opentelemetry-proto v1.9.0) → rows.
//!
//! - Resource attributes: `service.name` is the service (else
//!   `unknown_service`), `service.instance.id` (else `host.name`) the
//!   instance; every other attribute with a scalar value — resource,
//!   profile and sample — is a label (names outside `[A-Za-z0-9_.]`
//!   get `_`). A sample's link adds its `span_id` (hex) as a label.
//! - Each profile's one sample type maps to a `profile_type` as a pprof
//!   sample type does; `samples`/`count` over a `cpu`/`nanoseconds`
//!   period also gives `cpu` in nanoseconds (samples × period).
//! - Stacks come from the dictionary: a stack's locations leaf first,
//!   each location's lines innermost first; a location without lines is
//!   named by its address (and mapping file).
//! - A sample's value is the sum of its values, or without values the
//!   number of its timestamps.
//!
//! Every index is checked against its table; a bad one refuses the whole
//! request, naming where it was, so nothing partial is stored.

use super::Batcher;
use super::budget::MemoryCharge;
use super::error::{DecodeError, DecodeResult};
use super::labels::{check_label, check_label_count, check_value};
use super::types::{ProfileHint, map_sample_type};
use crate::limits::Limits;
use flarego_proto::opentelemetry::proto::collector::profiles::v1development::ExportProfilesServiceRequest;
use flarego_proto::opentelemetry::proto::common::v1::{AnyValue, KeyValue, any_value};
use flarego_proto::opentelemetry::proto::profiles::v1development::{Profile, ProfilesDictionary};
use flarego_storage::{SeriesKey, StackId, TenantId};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

/// Charges what decoding an encoded request takes before `prost` builds
/// it (its tables expand to a few times their size on the wire).
pub fn admit_otlp(raw: &[u8], charge: &mut MemoryCharge) -> DecodeResult<()> {
    charge.charge("OTLP profiles request", raw.len().saturating_mul(4))
}

fn bad(reason: String) -> DecodeError {
    DecodeError::BadRequest(format!("OTLP profiles: {reason}"))
}

/// `table[index]`, or an error naming the reference and the table.
fn at<'t, T>(
    table: &'t [T],
    index: i32,
    what: &dyn Fn() -> String,
    name: &str,
) -> DecodeResult<&'t T> {
    usize::try_from(index)
        .ok()
        .and_then(|i| table.get(i))
        .ok_or_else(|| {
            bad(format!(
                "{} = {index} is outside dictionary.{name} ({} entries)",
                what(),
                table.len()
            ))
        })
}

struct Dict<'a> {
    d: &'a ProfilesDictionary,
}

impl<'a> Dict<'a> {
    /// A string; index 0 is `""` even when the table is empty.
    fn string(&self, index: i32, what: &dyn Fn() -> String) -> DecodeResult<&'a str> {
        if index == 0 {
            return Ok(self.d.string_table.first().map_or("", String::as_str));
        }
        at(&self.d.string_table, index, what, "string_table").map(String::as_str)
    }

    /// An attribute as (label name, value); `None` for non-scalar values.
    fn attribute(
        &self,
        index: i32,
        what: &dyn Fn() -> String,
    ) -> DecodeResult<Option<(String, String)>> {
        if index == 0 {
            return Ok(None);
        }
        let a = at(&self.d.attribute_table, index, what, "attribute_table")?;
        let key = self.string(a.key_strindex, &|| format!("{}.key_strindex", what()))?;
        Ok(scalar(a.value.as_ref()).map(|v| (label_name(key), v)))
    }

    /// Frame names of every location, innermost first.
    fn location_frames(&self) -> DecodeResult<Vec<Vec<Cow<'a, str>>>> {
        let d = self.d;
        let mut out = Vec::with_capacity(d.location_table.len());
        for (li, loc) in d.location_table.iter().enumerate() {
            let mut names = Vec::with_capacity(loc.lines.len().max(1));
            for (ni, line) in loc.lines.iter().enumerate() {
                let what = || format!("location_table[{li}].lines[{ni}].function_index");
                let f = at(
                    &d.function_table,
                    line.function_index,
                    &what,
                    "function_table",
                )?;
                let fi = line.function_index;
                let name = self.string(f.name_strindex, &|| {
                    format!("function_table[{fi}].name_strindex")
                })?;
                let name = if name.is_empty() {
                    self.string(f.system_name_strindex, &|| {
                        format!("function_table[{fi}].system_name_strindex")
                    })?
                } else {
                    name
                };
                if !name.is_empty() {
                    names.push(Cow::Borrowed(name));
                }
            }
            if names.is_empty() {
                // Not symbolized: named by its address (and module).
                let mapping = if loc.mapping_index == 0 {
                    ""
                } else {
                    let what = || format!("location_table[{li}].mapping_index");
                    let m = at(&d.mapping_table, loc.mapping_index, &what, "mapping_table")?;
                    self.string(m.filename_strindex, &|| {
                        format!("mapping_table[{}].filename_strindex", loc.mapping_index)
                    })?
                };
                let module = mapping.rsplit('/').next().unwrap_or(mapping);
                names.push(Cow::Owned(match module {
                    "" => format!("0x{:x}", loc.address),
                    m => format!("{m}+0x{:x}", loc.address),
                }));
            }
            out.push(names);
        }
        Ok(out)
    }
}

/// A scalar attribute value as text.
fn scalar(v: Option<&AnyValue>) -> Option<String> {
    match v?.value.as_ref()? {
        any_value::Value::StringValue(s) => Some(s.clone()),
        any_value::Value::IntValue(i) => Some(i.to_string()),
        any_value::Value::BoolValue(b) => Some(b.to_string()),
        any_value::Value::DoubleValue(d) => Some(d.to_string()),
        _ => None,
    }
}

/// An attribute key as a label name (`[A-Za-z_][A-Za-z0-9_.]*`).
fn label_name(key: &str) -> String {
    let mut out: String = key
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if !out.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        out.insert(0, '_');
    }
    out
}

/// Where a resource's rows go: service, instance and labels.
struct Origin {
    service: String,
    instance: String,
    labels: BTreeMap<String, String>,
}

fn origin(attributes: &[KeyValue], limits: &Limits) -> DecodeResult<Origin> {
    let mut o = Origin {
        service: String::new(),
        instance: String::new(),
        labels: BTreeMap::new(),
    };
    let mut host = String::new();
    for kv in attributes {
        let Some(v) = scalar(kv.value.as_ref()) else {
            continue;
        };
        match kv.key.as_str() {
            "service.name" => o.service = v,
            "service.instance.id" => o.instance = v,
            "host.name" => {
                host = v.clone();
                o.labels.insert("host.name".into(), v);
            }
            k => {
                o.labels.insert(label_name(k), v);
            }
        }
    }
    if o.service.is_empty() {
        o.service = "unknown_service".into();
    }
    if o.instance.is_empty() {
        o.instance = host;
    }
    check_value("service.name", &o.service, limits)?;
    check_value("service.instance.id", &o.instance, limits)?;
    Ok(o)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Adds every profile of the request to `out`.
pub fn add_otlp(
    req: &ExportProfilesServiceRequest,
    tenant: &TenantId,
    received_ns: i64,
    limits: &Limits,
    out: &mut Batcher<'_>,
) -> DecodeResult<()> {
    let empty = ProfilesDictionary::default();
    let dict = Dict {
        d: req.dictionary.as_ref().unwrap_or(&empty),
    };
    let samples: usize = req
        .resource_profiles
        .iter()
        .flat_map(|r| &r.scope_profiles)
        .flat_map(|s| &s.profiles)
        .map(|p| p.samples.len())
        .sum();
    if samples > limits.max_samples {
        return Err(DecodeError::TooManySamples {
            count: samples,
            limit: limits.max_samples,
        });
    }
    let frames = dict.location_frames()?;
    let mut stacks: HashMap<i32, StackId> = HashMap::new();
    for (ri, rp) in req.resource_profiles.iter().enumerate() {
        let attributes = rp.resource.as_ref().map_or(&[][..], |r| &r.attributes[..]);
        let origin = origin(attributes, limits)?;
        for (si, sp) in rp.scope_profiles.iter().enumerate() {
            for (pi, p) in sp.profiles.iter().enumerate() {
                let place = Place { ri, si, pi };
                let mut ctx = ProfileRows {
                    dict: &dict,
                    frames: &frames,
                    stacks: &mut stacks,
                    origin: &origin,
                    tenant,
                    received_ns,
                    limits,
                    place,
                };
                ctx.add(p, out)?;
            }
        }
    }
    Ok(())
}

/// Which profile of the request.
#[derive(Clone, Copy)]
struct Place {
    ri: usize,
    si: usize,
    pi: usize,
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "resource_profiles[{}].scope_profiles[{}].profiles[{}]",
            self.ri, self.si, self.pi
        )
    }
}

struct ProfileRows<'a, 'd> {
    dict: &'a Dict<'d>,
    frames: &'a [Vec<Cow<'d, str>>],
    stacks: &'a mut HashMap<i32, StackId>,
    origin: &'a Origin,
    tenant: &'a TenantId,
    received_ns: i64,
    limits: &'a Limits,
    place: Place,
}

impl ProfileRows<'_, '_> {
    fn add(&mut self, p: &Profile, out: &mut Batcher<'_>) -> DecodeResult<()> {
        let place = self.place;
        let dict = self.dict;
        let vt = p.sample_type.unwrap_or_default();
        let kind = dict.string(vt.type_strindex, &|| {
            format!("{place}.sample_type.type_strindex")
        })?;
        let unit = dict.string(vt.unit_strindex, &|| {
            format!("{place}.sample_type.unit_strindex")
        })?;
        let pt = p.period_type.unwrap_or_default();
        let period_type = dict.string(pt.type_strindex, &|| {
            format!("{place}.period_type.type_strindex")
        })?;
        let period_unit = dict.string(pt.unit_strindex, &|| {
            format!("{place}.period_type.unit_strindex")
        })?;
        let (profile_type, unit) = map_sample_type(kind, unit, period_type, ProfileHint::None);
        let cpu_period = (profile_type == "cpu_samples"
            && period_type == "cpu"
            && period_unit == "nanoseconds"
            && p.period > 0)
            .then_some(p.period);
        let time = i64::try_from(p.time_unix_nano)
            .ok()
            .filter(|t| *t > 0)
            .unwrap_or(self.received_ns);

        let mut base = self.origin.labels.clone();
        for (k, &ai) in p.attribute_indices.iter().enumerate() {
            if let Some((name, v)) =
                dict.attribute(ai, &|| format!("{place}.attribute_indices[{k}]"))?
            {
                base.insert(name, v);
            }
        }
        // Label sets by (sample attributes, link), and values per (set, stack).
        let mut sets: HashMap<(Vec<i32>, i32), usize> = HashMap::new();
        let mut labels: Vec<BTreeMap<String, String>> = Vec::new();
        let mut sums: HashMap<(usize, StackId), i64> = HashMap::new();
        for (k, s) in p.samples.iter().enumerate() {
            let value = if s.values.is_empty() {
                s.timestamps_unix_nano.len() as i64
            } else {
                s.values.iter().fold(0i64, |a, v| a.saturating_add(*v))
            };
            if value == 0 {
                continue;
            }
            let stack = self.stack(s.stack_index, k, out)?;
            let key = (s.attribute_indices.clone(), s.link_index);
            let set = match sets.get(&key) {
                Some(set) => *set,
                None => {
                    let set = self.label_set(&base, s, k)?;
                    labels.push(set);
                    sets.insert(key, labels.len() - 1);
                    labels.len() - 1
                }
            };
            let sum = sums.entry((set, stack)).or_default();
            *sum = sum.saturating_add(value);
        }
        let mut per_set: BTreeMap<usize, Vec<(StackId, i64)>> = BTreeMap::new();
        for ((set, stack), v) in sums {
            per_set.entry(set).or_default().push((stack, v));
        }
        for (set, rows) in per_set {
            let key = |profile_type: &str, unit: &str| SeriesKey {
                tenant: self.tenant.clone(),
                service: self.origin.service.clone(),
                instance: self.origin.instance.clone(),
                profile_type: profile_type.to_string(),
                unit: unit.to_string(),
                state: None,
                labels: labels[set].clone(),
            };
            if let Some(period) = cpu_period {
                let ns = rows
                    .iter()
                    .map(|(s, v)| (*s, v.saturating_mul(period)))
                    .collect();
                out.push_series(time, key("cpu", "nanoseconds"), ns);
            }
            out.push_series(time, key(&profile_type, &unit), rows);
        }
        Ok(())
    }

    /// The labels of a sample: the profile's, its attributes, its span.
    fn label_set(
        &self,
        base: &BTreeMap<String, String>,
        s: &flarego_proto::opentelemetry::proto::profiles::v1development::Sample,
        k: usize,
    ) -> DecodeResult<BTreeMap<String, String>> {
        let place = self.place;
        let mut set = base.clone();
        for (j, &ai) in s.attribute_indices.iter().enumerate() {
            let what = || format!("{place}.samples[{k}].attribute_indices[{j}]");
            if let Some((name, v)) = self.dict.attribute(ai, &what)? {
                set.insert(name, v);
            }
        }
        if s.link_index != 0 {
            let what = || format!("{place}.samples[{k}].link_index");
            let link = at_link(self.dict, s.link_index, &what)?;
            if !link.is_empty() {
                set.insert("span_id".into(), link);
            }
        }
        for (name, v) in &set {
            check_label(name, v, self.limits)?;
        }
        check_label_count(&set, self.limits)?;
        Ok(set)
    }

    /// The stack of a sample, root first, registered once per request.
    fn stack(&mut self, index: i32, k: usize, out: &mut Batcher<'_>) -> DecodeResult<StackId> {
        if let Some(id) = self.stacks.get(&index) {
            return Ok(*id);
        }
        let place = self.place;
        let what = || format!("{place}.samples[{k}].stack_index");
        let stack = if index == 0 && self.dict.d.stack_table.is_empty() {
            &[][..]
        } else {
            &at(&self.dict.d.stack_table, index, &what, "stack_table")?.location_indices[..]
        };
        let mut names: Vec<&str> = Vec::new();
        for (j, &li) in stack.iter().enumerate().rev() {
            let what = || format!("stack_table[{index}].location_indices[{j}]");
            let loc = at(self.frames, li, &what, "location_table")?;
            names.extend(loc.iter().rev().map(|n| n.as_ref()));
        }
        if names.len() > self.limits.max_stack_depth {
            return Err(DecodeError::StackTooDeep {
                depth: names.len(),
                limit: self.limits.max_stack_depth,
            });
        }
        let id = out.stack(&names)?;
        self.stacks.insert(index, id);
        Ok(id)
    }
}

/// The span id of a link, hex.
fn at_link(dict: &Dict<'_>, index: i32, what: &dyn Fn() -> String) -> DecodeResult<String> {
    let link = at(&dict.d.link_table, index, what, "link_table")?;
    Ok(hex(&link.span_id))
}

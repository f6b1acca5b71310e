//! Stacks as a gzipped pprof `profile.proto`, written as Go writes one:
//! the sample type and period Go uses for the profile type, functions
//! and locations deduplicated (one location per function: frames are
//! function-level), `time_nanos` and `duration_nanos` from the range.
//! `go tool pprof` opens it with the same totals.

use super::StackList;
use flarego_proto::pprof::{Function, Line, Location, Mapping, Profile, Sample, ValueType};
use prost::Message;
use std::collections::HashMap;
use std::io::Write;

/// What goes into the profile besides the stacks.
#[derive(Debug, Clone)]
pub struct PprofHeader<'a> {
    pub profile_type: &'a str,
    pub unit: &'a str,
    pub from_ns: i64,
    pub to_ns: i64,
}

/// The pprof sample type (type, unit) Go uses for a FlareGo profile type.
pub fn sample_type(profile_type: &str, unit: &str) -> (String, String) {
    let (t, u) = match profile_type {
        "cpu" => ("cpu", "nanoseconds"),
        "cpu_samples" => ("samples", "count"),
        "alloc_objects" => ("alloc_objects", "count"),
        "alloc_space" => ("alloc_space", "bytes"),
        "heap_inuse_objects" => ("inuse_objects", "count"),
        "heap_inuse_space" => ("inuse_space", "bytes"),
        "goroutine" => ("goroutine", "count"),
        "block_contentions" | "mutex_contentions" => ("contentions", "count"),
        "block_delay" | "mutex_delay" => ("delay", "nanoseconds"),
        other => (other, unit),
    };
    (t.to_string(), u.to_string())
}

/// The period type and period Go writes for a profile type.
fn period(profile_type: &str, sample: &(String, String)) -> ((String, String), i64) {
    match profile_type {
        "cpu" | "cpu_samples" => (("cpu".into(), "nanoseconds".into()), 10_000_000),
        "alloc_objects" | "alloc_space" | "heap_inuse_objects" | "heap_inuse_space" => {
            (("space".into(), "bytes".into()), 512 * 1024)
        }
        "block_contentions" | "block_delay" | "mutex_contentions" | "mutex_delay" => {
            (("contentions".into(), "count".into()), 1)
        }
        _ => (sample.clone(), 1),
    }
}

/// Strings of a profile, deduplicated; index 0 is `""`.
#[derive(Default)]
struct Strings {
    table: Vec<String>,
    index: HashMap<String, i64>,
}

impl Strings {
    fn new() -> Self {
        let mut s = Strings::default();
        s.get("");
        s
    }
    fn get(&mut self, v: &str) -> i64 {
        if let Some(i) = self.index.get(v) {
            return *i;
        }
        let i = self.table.len() as i64;
        self.table.push(v.to_string());
        self.index.insert(v.to_string(), i);
        i
    }
}

/// The profile of `stacks` (root-first frames), unencoded.
pub fn profile(stacks: &StackList, h: &PprofHeader<'_>) -> Profile {
    let mut strings = Strings::new();
    let st = sample_type(h.profile_type, h.unit);
    let (pt, period) = period(h.profile_type, &st);
    let sample_type = vec![ValueType {
        r#type: strings.get(&st.0),
        unit: strings.get(&st.1),
    }];
    let period_type = Some(ValueType {
        r#type: strings.get(&pt.0),
        unit: strings.get(&pt.1),
    });
    let mut functions: Vec<Function> = Vec::new();
    let mut location_of: HashMap<&str, u64> = HashMap::new();
    let mut samples = Vec::with_capacity(stacks.len());
    for (frames, value) in stacks {
        if *value == 0 {
            continue;
        }
        let mut ids = Vec::with_capacity(frames.len());
        // pprof lists a sample's locations leaf first.
        for f in frames.iter().rev() {
            let name: &str = f.as_ref();
            let id = match location_of.get(name) {
                Some(id) => *id,
                None => {
                    let id = functions.len() as u64 + 1;
                    let n = strings.get(name);
                    functions.push(Function {
                        id,
                        name: n,
                        system_name: n,
                        ..Default::default()
                    });
                    location_of.insert(name, id);
                    id
                }
            };
            ids.push(id);
        }
        samples.push(Sample {
            location_id: ids,
            value: vec![*value],
            label: Vec::new(),
        });
    }
    let location = functions
        .iter()
        .map(|f| Location {
            id: f.id,
            mapping_id: 1,
            line: vec![Line {
                function_id: f.id,
                line: 0,
                column: 0,
            }],
            ..Default::default()
        })
        .collect();
    let mapping = vec![Mapping {
        id: 1,
        has_functions: true,
        ..Default::default()
    }];
    Profile {
        sample_type,
        sample: samples,
        mapping,
        location,
        function: functions,
        string_table: strings.table,
        time_nanos: h.from_ns,
        duration_nanos: h.to_ns.saturating_sub(h.from_ns),
        period_type,
        period,
        ..Default::default()
    }
}

/// The gzipped encoding of [`profile`].
pub fn encode(stacks: &StackList, h: &PprofHeader<'_>) -> Vec<u8> {
    let raw = profile(stacks, h).encode_to_vec();
    let mut gz = flate2::write::GzEncoder::new(
        Vec::with_capacity(raw.len() / 3),
        flate2::Compression::default(),
    );
    // Writing to a Vec cannot fail.
    let _ = gz.write_all(&raw);
    gz.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn functions_and_locations_are_shared_and_samples_leaf_first() {
        let s = |f: &[&str], v| {
            (
                f.iter().map(|x| Arc::<str>::from(*x)).collect::<Vec<_>>(),
                v,
            )
        };
        let stacks = vec![
            s(&["main", "a", "b"], 30),
            s(&["main", "a"], 10),
            s(&["main", "c"], 0),
        ];
        let p = profile(
            &stacks,
            &PprofHeader {
                profile_type: "cpu",
                unit: "nanoseconds",
                from_ns: 1_000,
                to_ns: 61_000,
            },
        );
        assert_eq!(p.function.len(), 3, "main, a, b (c has no value)");
        assert_eq!(p.location.len(), 3);
        let name = |id: u64| p.string_table[p.function[id as usize - 1].name as usize].as_str();
        let first: Vec<&str> = p.sample[0].location_id.iter().map(|i| name(*i)).collect();
        assert_eq!(first, ["b", "a", "main"]);
        assert_eq!(p.sample[1].value, [10]);
        assert_eq!(p.string_table[p.sample_type[0].r#type as usize], "cpu");
        assert_eq!(
            (p.time_nanos, p.duration_nanos, p.period),
            (1_000, 60_000, 10_000_000)
        );
        let back = Profile::decode(
            std::io::Read::bytes(flate2::read::GzDecoder::new(
                &encode(
                    &stacks,
                    &PprofHeader {
                        profile_type: "cpu",
                        unit: "nanoseconds",
                        from_ns: 1_000,
                        to_ns: 61_000,
                    },
                )[..],
            ))
            .collect::<Result<Vec<u8>, _>>()
            .unwrap()
            .as_slice(),
        )
        .unwrap();
        assert_eq!(back, p);
    }
}

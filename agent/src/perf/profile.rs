//! A window of perf samples as a pprof profile, shaped like Go's CPU
//! profile (`samples/count`, `cpu/nanoseconds`), so the server reads it
//! with the same decoder.

use super::sampler::{KERNEL_FRAME, PerfWindow};
use super::symbols::Symbolizer;
use super::unwind::INCOMPLETE_FRAME;
use flarego_proto::pprof::{Function, Line, Location, Profile, Sample, ValueType};
use std::collections::HashMap;

struct Builder {
    strings: Vec<String>,
    string_ids: HashMap<String, i64>,
    functions: HashMap<String, u64>,
    profile: Profile,
}

impl Builder {
    fn string(&mut self, s: &str) -> i64 {
        if let Some(i) = self.string_ids.get(s) {
            return *i;
        }
        let i = self.strings.len() as i64;
        self.strings.push(s.to_string());
        self.string_ids.insert(s.to_string(), i);
        i
    }

    fn function(&mut self, name: &str) -> u64 {
        if let Some(id) = self.functions.get(name) {
            return *id;
        }
        let id = self.profile.function.len() as u64 + 1;
        let n = self.string(name);
        self.profile.function.push(Function {
            id,
            name: n,
            system_name: n,
            ..Default::default()
        });
        self.functions.insert(name.to_string(), id);
        id
    }
}

/// Builds the profile of `w`, naming frames with `symbols`.
pub fn to_pprof(w: &PerfWindow, symbols: &mut Symbolizer, start_ns: i64) -> Profile {
    let mut b = Builder {
        strings: vec![String::new()],
        string_ids: HashMap::from([(String::new(), 0)]),
        functions: HashMap::new(),
        profile: Profile::default(),
    };
    let types = [("samples", "count"), ("cpu", "nanoseconds")];
    for (t, u) in types {
        let vt = ValueType {
            r#type: b.string(t),
            unit: b.string(u),
        };
        b.profile.sample_type.push(vt);
    }
    b.profile.period_type = b.profile.sample_type.get(1).cloned();
    b.profile.period = w.period_ns as i64;
    b.profile.time_nanos = start_ns;

    // One location per (address, leaf or not).
    let mut locations: HashMap<(u64, bool), u64> = HashMap::new();
    for (chain, count) in &w.stacks {
        let mut ids = Vec::with_capacity(chain.len());
        let mut leaf = true;
        for &addr in chain {
            let key = (addr, leaf);
            let id = match locations.get(&key) {
                Some(id) => *id,
                None => {
                    let name = if addr == KERNEL_FRAME {
                        "[kernel]".into()
                    } else if addr == INCOMPLETE_FRAME {
                        "[unwind incomplete]".into()
                    } else {
                        symbols.name(addr, !leaf)
                    };
                    let function_id = b.function(&name);
                    let id = b.profile.location.len() as u64 + 1;
                    b.profile.location.push(Location {
                        id,
                        address: if addr >= INCOMPLETE_FRAME { 0 } else { addr },
                        line: vec![Line {
                            function_id,
                            line: 0,
                            column: 0,
                        }],
                        ..Default::default()
                    });
                    locations.insert(key, id);
                    id
                }
            };
            ids.push(id);
            // The kernel marker is not a call site: the next frame is the leaf of user code.
            leaf = addr == KERNEL_FRAME;
        }
        let n = *count as i64;
        b.profile.sample.push(Sample {
            location_id: ids,
            value: vec![n, n.saturating_mul(w.period_ns as i64)],
            label: vec![],
        });
    }
    b.profile.string_table = b.strings;
    b.profile
}

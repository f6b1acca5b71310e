//! [`ProfileBuilder`]: pprof profiles with known stacks and values.

use flarego_proto::pprof::{Function, Label, Line, Location, Profile, Sample, ValueType};
use prost::Message;
use std::collections::HashMap;
use std::io::Write;

/// Builds a pprof `Profile` from root-first stacks.
#[derive(Default)]
pub struct ProfileBuilder {
    p: Profile,
    strings: HashMap<String, i64>,
    functions: HashMap<String, u64>,
}

impl ProfileBuilder {
    /// A profile with the given `(type, unit)` sample types.
    pub fn new(sample_types: &[(&str, &str)]) -> Self {
        let mut b = ProfileBuilder::default();
        b.p.string_table.push(String::new());
        for (t, u) in sample_types {
            let vt = ValueType {
                r#type: b.s(t),
                unit: b.s(u),
            };
            b.p.sample_type.push(vt);
        }
        b
    }

    pub fn period(mut self, kind: &str, unit: &str, period: i64) -> Self {
        self.p.period_type = Some(ValueType {
            r#type: self.s(kind),
            unit: self.s(unit),
        });
        self.p.period = period;
        self
    }

    pub fn time_nanos(mut self, t: i64) -> Self {
        self.p.time_nanos = t;
        self
    }

    fn s(&mut self, v: &str) -> i64 {
        if let Some(i) = self.strings.get(v) {
            return *i;
        }
        let i = self.p.string_table.len() as i64;
        self.p.string_table.push(v.to_string());
        self.strings.insert(v.to_string(), i);
        i
    }

    fn location(&mut self, name: &str) -> u64 {
        if let Some(id) = self.functions.get(name) {
            return *id;
        }
        let id = self.p.function.len() as u64 + 1;
        let n = self.s(name);
        self.p.function.push(Function {
            id,
            name: n,
            system_name: n,
            filename: 0,
            start_line: 0,
        });
        self.p.location.push(Location {
            id,
            mapping_id: 0,
            address: 0x1000 + id,
            line: vec![Line {
                function_id: id,
                line: 1,
                column: 0,
            }],
            is_folded: false,
        });
        self.functions.insert(name.to_string(), id);
        id
    }

    /// Adds a sample: `stack` root first, one value per sample type.
    pub fn sample(mut self, stack: &[&str], values: &[i64], labels: &[(&str, &str)]) -> Self {
        let ids: Vec<u64> = stack.iter().rev().map(|f| self.location(f)).collect();
        let label = labels
            .iter()
            .map(|(k, v)| Label {
                key: self.s(k),
                str: self.s(v),
                num: 0,
                num_unit: 0,
            })
            .collect();
        self.p.sample.push(Sample {
            location_id: ids,
            value: values.to_vec(),
            label,
        });
        self
    }

    pub fn build(self) -> Profile {
        self.p
    }

    pub fn bytes(self) -> Vec<u8> {
        self.p.encode_to_vec()
    }

    pub fn gzipped(self) -> Vec<u8> {
        gzip(&self.bytes())
    }
}

/// Gzips `data`.
pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = e.write_all(data);
    e.finish().unwrap_or_default()
}

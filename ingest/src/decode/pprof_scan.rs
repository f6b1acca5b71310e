//! Measures a pprof `Profile` on the wire before it is decoded: how many
//! samples it holds (checked against `max_samples`) and how much memory
//! decoding it and turning it into rows will take (charged to the
//! request's [`MemoryCharge`]).

use super::budget::MemoryCharge;
use super::error::{DecodeError, DecodeResult};
use super::wire::{Fields, Value, scalar_count};
use crate::limits::Limits;
use flarego_proto::pprof::{Function, Label, Line, Location, Mapping, Sample, ValueType};
use std::mem::size_of;

/// What a profile holds, counted on the wire.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PprofCounts {
    pub samples: usize,
    pub sample_types: usize,
    pub location_refs: usize,
    pub values: usize,
    pub labels: usize,
    pub locations: usize,
    pub lines: usize,
    pub functions: usize,
    pub mappings: usize,
    pub strings: usize,
    pub string_bytes: usize,
}

impl PprofCounts {
    /// Bytes the decoded `Profile` takes (each repeated field may hold up
    /// to twice its length while it grows), plus what turning it into rows
    /// holds at once: frames per location, label sets, sums per stack and
    /// the series handed to storage.
    pub fn footprint(&self) -> usize {
        let message = self.samples * size_of::<Sample>()
            + self.sample_types * size_of::<ValueType>()
            + (self.location_refs + self.values) * 8
            + self.labels * size_of::<Label>()
            + self.locations * size_of::<Location>()
            + self.lines * size_of::<Line>()
            + self.functions * size_of::<Function>()
            + self.mappings * size_of::<Mapping>()
            + self.strings * size_of::<String>()
            + self.string_bytes;
        let rows = self.locations * 96
            + self.lines * 24
            + (self.functions + self.mappings) * 32
            + self.labels * 96
            + self.samples * 64
            + self.values * 40;
        message.saturating_mul(2).saturating_add(rows)
    }
}

/// Counts the fields of an encoded `Profile`.
pub fn scan(buf: &[u8]) -> Result<PprofCounts, String> {
    let mut c = PprofCounts::default();
    for f in Fields::new(buf) {
        let (field, v) = f?;
        match (field, v) {
            (1, _) => c.sample_types += 1,
            (2, Value::Bytes(b)) => {
                c.samples += 1;
                for f in Fields::new(b) {
                    match f? {
                        (1, v) => c.location_refs += scalar_count(v, None),
                        (2, v) => c.values += scalar_count(v, None),
                        (3, _) => c.labels += 1,
                        _ => {}
                    }
                }
            }
            (3, _) => c.mappings += 1,
            (4, Value::Bytes(b)) => {
                c.locations += 1;
                for f in Fields::new(b) {
                    if let (4, _) = f? {
                        c.lines += 1;
                    }
                }
            }
            (5, _) => c.functions += 1,
            (6, Value::Bytes(b)) => {
                c.strings += 1;
                c.string_bytes += b.len();
            }
            _ => {}
        }
    }
    Ok(c)
}

/// Checks an inflated profile against the sample limit and charges its
/// footprint, before `prost` allocates any of it.
pub fn admit(
    buf: &[u8],
    what: &str,
    limits: &Limits,
    charge: &mut MemoryCharge,
) -> DecodeResult<()> {
    let counts = scan(buf).map_err(|reason| DecodeError::BadPprof {
        what: what.to_string(),
        reason,
    })?;
    if counts.samples > limits.max_samples {
        return Err(DecodeError::TooManySamples {
            count: counts.samples,
            limit: limits.max_samples,
        });
    }
    charge.charge(what, counts.footprint())
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn counts_what_prost_decodes() {
        let p = flarego_proto::pprof::Profile {
            string_table: vec!["".into(), "cpu".into(), "main".into()],
            sample_type: vec![ValueType { r#type: 1, unit: 1 }],
            sample: vec![
                Sample {
                    location_id: vec![1, 2],
                    value: vec![10],
                    label: vec![],
                },
                Sample::default(),
            ],
            location: vec![Location {
                id: 1,
                line: vec![Line::default(), Line::default()],
                ..Default::default()
            }],
            function: vec![Function::default()],
            ..Default::default()
        };
        let c = scan(&p.encode_to_vec()).unwrap();
        assert_eq!(
            c,
            PprofCounts {
                samples: 2,
                sample_types: 1,
                location_refs: 2,
                values: 1,
                labels: 0,
                locations: 1,
                lines: 2,
                functions: 1,
                mappings: 0,
                strings: 3,
                string_bytes: 7,
            }
        );
    }

    #[test]
    fn empty_samples_are_counted_at_two_bytes_each() {
        // 1,000 empty samples: 2,000 bytes on the wire.
        let buf: Vec<u8> = std::iter::repeat_n([0x12u8, 0x00], 1000)
            .flatten()
            .collect();
        let c = scan(&buf).unwrap();
        assert_eq!(c.samples, 1000);
        assert!(c.footprint() >= 1000 * size_of::<Sample>());
        let tight = Limits {
            max_samples: 999,
            ..Limits::default()
        };
        let e = admit(&buf, "profile", &tight, &mut MemoryCharge::unlimited()).unwrap_err();
        assert!(e.to_string().contains("max_samples = 999"), "{e}");
    }
}

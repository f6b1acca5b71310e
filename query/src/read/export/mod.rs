//! Exports of a selection: `pprof` (gzipped `profile.proto`), `folded`
//! text, and `.fgo` snapshots ([`fgo`]); the same encoders write a stored
//! snapshot back out in any of the three.

pub mod fgo;
pub mod folded;
pub mod pprof;

use super::stacks::StackValues;
use super::{ReadError, Selection};
use crate::QueryEngine;
use fgo::Fgo;
use flarego_storage::TenantId;
use std::io::Write;
use std::sync::Arc;

/// Stacks (root first) and their values.
pub type StackList = [(Vec<Arc<str>>, i64)];

/// An export format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Pprof,
    Folded,
    Fgo,
}

impl Format {
    pub fn parse(raw: &str) -> Result<Format, ReadError> {
        match raw {
            "pprof" => Ok(Format::Pprof),
            "folded" | "collapsed" => Ok(Format::Folded),
            "fgo" => Ok(Format::Fgo),
            other => Err(ReadError::param(
                "format",
                format!("{other:?}: use pprof, folded or fgo"),
            )),
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Pprof => "application/octet-stream",
            Format::Folded => "text/plain; charset=utf-8",
            Format::Fgo => "application/gzip",
        }
    }

    /// The file name extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Pprof => "pb.gz",
            Format::Folded => "folded",
            Format::Fgo => "fgo",
        }
    }
}

/// The bytes of `doc` as an `.fgo` file.
pub fn fgo_bytes(doc: &Fgo) -> Vec<u8> {
    gzip(&serde_json::to_vec(doc).unwrap_or_default())
}

/// `raw` gzipped.
pub fn gzip(raw: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(
        Vec::with_capacity(raw.len() / 4),
        flate2::Compression::default(),
    );
    // Writing to a Vec cannot fail.
    let _ = gz.write_all(raw);
    gz.finish().unwrap_or_default()
}

/// `stacks` in `format` (not `.fgo`, which needs more than stacks).
pub fn encode_stacks(
    format: Format,
    stacks: &StackValues,
    profile_type: &str,
    from_ns: i64,
    to_ns: i64,
) -> Vec<u8> {
    match format {
        Format::Folded => folded::encode(&stacks.stacks).into_bytes(),
        Format::Pprof | Format::Fgo => pprof::encode(
            &stacks.stacks,
            &pprof::PprofHeader {
                profile_type,
                unit: &stacks.unit,
                from_ns,
                to_ns,
            },
        ),
    }
}

/// A stored snapshot written out in `format`.
pub fn encode_snapshot(format: Format, doc: &Fgo, json: &[u8]) -> Vec<u8> {
    match format {
        Format::Fgo => gzip(json),
        _ => {
            let (from, to) = (
                super::time::parse_time("from", &doc.selection.from, 0).unwrap_or(0),
                super::time::parse_time("to", &doc.selection.to, 0).unwrap_or(0),
            );
            encode_stacks(format, &doc.stack_values(), &doc.profile_type, from, to)
        }
    }
}

impl QueryEngine {
    /// `sel` exported as `format`.
    pub async fn export(
        &self,
        scope: Option<TenantId>,
        sel: &Selection,
        format: Format,
    ) -> Result<Vec<u8>, ReadError> {
        if format == Format::Fgo {
            let doc = self.snapshot_of(scope, sel).await?;
            return Ok(flarego_storage::blocking(|| fgo_bytes(&doc)));
        }
        let stacks = self.stack_values(scope, sel).await?;
        Ok(flarego_storage::blocking(|| {
            encode_stacks(format, &stacks, &sel.profile_type, sel.from_ns, sel.to_ns)
        }))
    }
}

//! Decoders: pprof, folded stacks, Pyroscope push requests and agent
//! chunks into a [`flarego_storage::WriteBatch`], validated against
//! [`Limits`].
//!
//! Nothing a client sends is allocated before it is measured: bodies are
//! inflated and protobuf messages counted on the wire ([`wire`],
//! [`pprof_scan`]) and charged to the request's [`budget::MemoryCharge`]
//! first, stacks are checked against `max_stack_depth` while they are
//! expanded, and the [`Batcher`] charges every new stack it keeps.
//!
//! The same functions run at ingest and on WAL replay (see
//! [`crate::record`]), so a replayed write yields exactly the rows it
//! yielded when it was acknowledged.

pub mod budget;
pub mod chunk;
pub mod error;
pub mod folded;
pub mod gzip;
pub mod import;
pub mod labels;
pub mod otlp;
pub mod pprof;
pub mod pprof_scan;
pub mod push;
pub mod types;
pub mod wire;

pub use error::{DecodeError, DecodeResult};

mod batcher;

pub use batcher::Batcher;

use crate::limits::Limits;

/// Refuses a time outside [`Limits::time_range`] of `now_ns`.
pub fn check_time(what: &str, t: i64, now_ns: i64, limits: &Limits) -> DecodeResult<()> {
    let (lo, hi) = limits.time_range(now_ns);
    if (lo..=hi).contains(&t) {
        return Ok(());
    }
    let ahead = t > hi;
    let (limit_name, limit) = if ahead {
        ("max_time_ahead", limits.max_time_ahead)
    } else {
        ("max_time_behind", limits.max_time_behind)
    };
    let secs = t.abs_diff(now_ns) / 1_000_000_000;
    Err(DecodeError::TimeOutOfRange(format!(
        "{what} is dated {}, {} {} the server's clock ({}): over the limit {limit_name} = {}",
        rfc3339(t),
        rough(secs),
        if ahead { "ahead of" } else { "behind" },
        rfc3339(now_ns),
        humantime::format_duration(limit),
    )))
}

/// A distance in time to the nearest of the unit that matters: `400d`,
/// `3h`, `12m`, `40s`.
fn rough(secs: u64) -> String {
    let near = |unit: u64| (secs + unit / 2) / unit;
    match secs {
        s if s >= 2 * 86_400 => format!("{}d", near(86_400)),
        s if s >= 2 * 3_600 => format!("{}h", near(3_600)),
        s if s >= 120 => format!("{}m", near(60)),
        s => format!("{s}s"),
    }
}

fn rfc3339(ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(ns).to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

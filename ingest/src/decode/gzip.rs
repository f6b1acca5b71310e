//! Bounded gzip decompression: output is charged to the request's memory
//! as it grows, and a small body that inflates past the limit (a gzip
//! bomb) is refused after reading at most limit + 1 bytes.

use super::budget::MemoryCharge;
use super::error::{DecodeError, DecodeResult};
use crate::limits::Limits;
use flate2::read::MultiGzDecoder;
use std::borrow::Cow;
use std::io::Read;

/// Output grows by at least this much at a time.
const STEP: usize = 256 << 10;

/// Whether `data` starts with the gzip magic bytes.
pub fn is_gzip(data: &[u8]) -> bool {
    data.len() >= 2 && data[0] == 0x1f && data[1] == 0x8b
}

/// `data` inflated when gzipped, as is otherwise; `what` names it in errors.
pub fn maybe_gunzip<'a>(
    data: &'a [u8],
    what: &str,
    limits: &Limits,
    charge: &mut MemoryCharge,
) -> DecodeResult<Cow<'a, [u8]>> {
    if !is_gzip(data) {
        if data.len() > limits.max_decompressed_bytes {
            return Err(DecodeError::DecompressedTooLarge {
                what: what.to_string(),
                limit: limits.max_decompressed_bytes,
            });
        }
        return Ok(Cow::Borrowed(data));
    }
    gunzip(data, what, limits, charge).map(Cow::Owned)
}

/// Inflates gzip `data`, refusing output beyond `max_decompressed_bytes`
/// and charging the output buffer before it grows.
pub fn gunzip(
    data: &[u8],
    what: &str,
    limits: &Limits,
    charge: &mut MemoryCharge,
) -> DecodeResult<Vec<u8>> {
    let limit = limits.max_decompressed_bytes;
    let bad = |e: std::io::Error| DecodeError::BadGzip {
        what: what.to_string(),
        reason: e.to_string(),
    };
    let mut reader = MultiGzDecoder::new(data).take((limit as u64).saturating_add(1));
    let mut out: Vec<u8> = Vec::new();
    loop {
        if out.capacity() - out.len() < STEP / 4 {
            let grow = out.capacity().max(STEP);
            charge.charge(what, grow)?;
            out.reserve_exact(grow);
        }
        let spare = out.capacity() - out.len();
        let n = (&mut reader)
            .take(spare as u64)
            .read_to_end(&mut out)
            .map_err(bad)?;
        if out.len() > limit {
            return Err(DecodeError::DecompressedTooLarge {
                what: what.to_string(),
                limit,
            });
        }
        if n == 0 {
            return Ok(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut e, data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn inflates_within_the_limit_and_refuses_past_it() {
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        let gz = gz(&data);
        // No limit (WAL replay) must still inflate everything.
        let mut free = MemoryCharge::unlimited();
        assert_eq!(
            gunzip(&gz, "body", &Limits::unlimited(), &mut free).unwrap(),
            data
        );
        let tight = Limits {
            max_decompressed_bytes: 999_999,
            ..Limits::default()
        };
        let err = gunzip(&gz, "body", &tight, &mut MemoryCharge::unlimited())
            .unwrap_err()
            .to_string();
        assert!(err.contains("max_decompressed_bytes = 999999"), "{err}");
    }

    #[test]
    fn the_output_is_charged_before_it_is_allocated() {
        let gz = gz(&vec![0u8; 4 << 20]);
        let mut charge = MemoryCharge::new(1 << 20, None);
        let err = gunzip(&gz, "body", &Limits::default(), &mut charge)
            .unwrap_err()
            .to_string();
        assert!(err.contains("max_request_memory_bytes = 1048576"), "{err}");
        assert!(charge.used() <= 1 << 20);
        let mut roomy = MemoryCharge::new(64 << 20, None);
        let out = gunzip(&gz, "body", &Limits::default(), &mut roomy).unwrap();
        assert_eq!(out.len(), 4 << 20);
        assert!(
            roomy.used() >= out.capacity(),
            "{} < {}",
            roomy.used(),
            out.capacity()
        );
    }
}

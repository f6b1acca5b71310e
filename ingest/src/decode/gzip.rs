//! Bounded gzip decompression: a small body that inflates past the limit
//! (a gzip bomb) is refused after reading at most limit + 1 bytes.

use super::error::{DecodeError, DecodeResult};
use crate::limits::Limits;
use flate2::read::MultiGzDecoder;
use std::borrow::Cow;
use std::io::Read;

/// Whether `data` starts with the gzip magic bytes.
pub fn is_gzip(data: &[u8]) -> bool {
    data.len() >= 2 && data[0] == 0x1f && data[1] == 0x8b
}

/// `data` inflated when gzipped, as is otherwise; `what` names it in errors.
pub fn maybe_gunzip<'a>(
    data: &'a [u8],
    what: &str,
    limits: &Limits,
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
    gunzip(data, what, limits).map(Cow::Owned)
}

/// Inflates gzip `data`, refusing output beyond `max_decompressed_bytes`.
pub fn gunzip(data: &[u8], what: &str, limits: &Limits) -> DecodeResult<Vec<u8>> {
    let limit = limits.max_decompressed_bytes;
    let mut out = Vec::with_capacity(data.len().saturating_mul(4).min(limit.min(64 << 20)));
    let mut reader = MultiGzDecoder::new(data).take((limit as u64).saturating_add(1));
    reader
        .read_to_end(&mut out)
        .map_err(|e| DecodeError::BadGzip {
            what: what.to_string(),
            reason: e.to_string(),
        })?;
    if out.len() > limit {
        return Err(DecodeError::DecompressedTooLarge {
            what: what.to_string(),
            limit,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inflates_within_the_limit_and_refuses_past_it() {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut e, &[7u8; 10_000]).unwrap();
        let gz = e.finish().unwrap();
        // No limit (WAL replay) must still inflate everything.
        assert_eq!(
            gunzip(&gz, "body", &Limits::unlimited()).unwrap().len(),
            10_000
        );
        let tight = Limits {
            max_decompressed_bytes: 9_999,
            ..Limits::default()
        };
        let err = gunzip(&gz, "body", &tight).unwrap_err().to_string();
        assert!(err.contains("max_decompressed_bytes = 9999"), "{err}");
    }
}

//! Times in read requests: RFC 3339 (`2026-12-01T10:00:00Z`), Unix
//! seconds, milliseconds, microseconds or nanoseconds (told apart by
//! magnitude), or relative to now (`now`, `now-1h`, `now-90s`).

use super::ReadError;

/// A time parameter, as ns since the epoch, relative to `now_ns`.
pub fn parse_time(param: &str, raw: &str, now_ns: i64) -> Result<i64, ReadError> {
    let bad = |reason: String| ReadError::param(param, reason);
    let s = raw.trim();
    if s.is_empty() {
        return Err(bad("empty".into()));
    }
    if let Some(rest) = s.strip_prefix("now") {
        let rest = rest.trim();
        if rest.is_empty() {
            return Ok(now_ns);
        }
        let (sign, d) = match rest.split_at(1) {
            ("-", d) => (-1, d),
            ("+", d) => (1, d),
            _ => return Err(bad(format!("{raw:?}: use now, now-1h or now+5m"))),
        };
        let d = humantime::parse_duration(d.trim()).map_err(|e| bad(format!("{raw:?}: {e}")))?;
        let ns = i64::try_from(d.as_nanos()).map_err(|_| bad(format!("{raw:?}: too far")))?;
        return now_ns
            .checked_add(sign * ns)
            .ok_or_else(|| bad(format!("{raw:?}: out of range")));
    }
    if let Ok(v) = s.parse::<i64>() {
        if v < 0 {
            return Err(bad("must not be negative".into()));
        }
        let ns = if v >= 100_000_000_000_000_000 {
            Some(v)
        } else if v >= 100_000_000_000_000 {
            v.checked_mul(1_000)
        } else if v >= 100_000_000_000 {
            v.checked_mul(1_000_000)
        } else {
            v.checked_mul(1_000_000_000)
        };
        return ns.ok_or_else(|| bad("out of range".into()));
    }
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .and_then(|t| t.timestamp_nanos_opt())
        .ok_or_else(|| {
            bad(format!(
                "{raw:?} is not a time: use RFC 3339, Unix seconds/ms/ns, or now-1h"
            ))
        })
}

/// A step such as `10s` or `1m`, in ns.
pub fn parse_step(param: &str, raw: &str) -> Result<i64, ReadError> {
    let d = humantime::parse_duration(raw.trim())
        .map_err(|e| ReadError::param(param, format!("{raw:?}: {e}")))?;
    let ns = i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
    if ns < 1_000_000 {
        return Err(ReadError::param(param, format!("{raw:?}: at least 1ms")));
    }
    Ok(ns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_of_time() {
        let now = 1_800_000_000_000_000_000;
        assert_eq!(parse_time("from", "now", now).unwrap(), now);
        assert_eq!(
            parse_time("from", "now-1h", now).unwrap(),
            now - 3_600_000_000_000
        );
        assert_eq!(
            parse_time("from", "now - 90s", now).unwrap(),
            now - 90_000_000_000
        );
        assert_eq!(
            parse_time("from", "1700000000", now).unwrap(),
            1_700_000_000_000_000_000
        );
        assert_eq!(
            parse_time("from", "1700000000123", now).unwrap(),
            1_700_000_000_123_000_000
        );
        assert_eq!(
            parse_time("from", "2023-11-14T22:13:20Z", now).unwrap(),
            1_700_000_000_000_000_000
        );
        let e = parse_time("from", "yesterday", now)
            .unwrap_err()
            .to_string();
        assert!(e.contains("from") && e.contains("RFC 3339"), "{e}");
        assert!(parse_time("to", "now*3", now).is_err());
        assert!(parse_step("step", "0s").is_err());
        assert_eq!(parse_step("step", "10s").unwrap(), 10_000_000_000);
    }
}

//! Folded (collapsed) stacks: `main;foo;bar 42`, one stack per line, root
//! first, as Pyroscope's `format=folded` (and `format=lines`) send them.

use super::Batcher;
use super::error::{DecodeError, DecodeResult};
use crate::limits::Limits;
use flarego_storage::{SeriesKey, StackId};
use std::collections::HashMap;

/// Adds the rows of a folded body to `out` as one series. `scale`
/// multiplies every value (sample counts → nanoseconds for CPU).
pub fn add_folded(
    text: &[u8],
    key: SeriesKey,
    time_ns: i64,
    scale: i64,
    limits: &Limits,
    out: &mut Batcher<'_>,
) -> DecodeResult<()> {
    let text = std::str::from_utf8(text).map_err(|e| DecodeError::BadFolded {
        line: 1 + text[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count(),
        reason: format!("not valid UTF-8 at byte {}", e.valid_up_to()),
    })?;
    let mut sums: HashMap<StackId, i64> = HashMap::new();
    let mut order = Vec::new();
    let mut count = 0usize;
    let mut frames: Vec<&str> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        count += 1;
        if count > limits.max_samples {
            return Err(DecodeError::TooManySamples {
                count,
                limit: limits.max_samples,
            });
        }
        let bad = |reason: String| DecodeError::BadFolded {
            line: n + 1,
            reason,
        };
        let Some((stack, value)) = line.rsplit_once(' ') else {
            return Err(bad("expected `frame;frame;... value`".into()));
        };
        let value: i64 = value
            .trim()
            .parse()
            .map_err(|_| bad(format!("value {value:?} is not an integer")))?;
        frames.clear();
        frames.extend(stack.split(';').filter(|f| !f.is_empty()));
        if frames.is_empty() {
            return Err(bad("empty stack".into()));
        }
        if frames.len() > limits.max_stack_depth {
            return Err(DecodeError::StackTooDeep {
                depth: frames.len(),
                limit: limits.max_stack_depth,
            });
        }
        let id = out.stack(&frames)?;
        let e = sums.entry(id).or_insert_with(|| {
            order.push(id);
            0
        });
        *e = e.saturating_add(value.saturating_mul(scale));
    }
    let samples: Vec<(StackId, i64)> = order
        .into_iter()
        .filter_map(|id| sums.get(&id).map(|v| (id, *v)))
        .filter(|(_, v)| *v != 0)
        .collect();
    out.push_series(time_ns, key, samples);
    Ok(())
}

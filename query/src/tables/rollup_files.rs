//! Which cold files a `profiles` scan reads when the query may be
//! answered from rollups ([`crate::rollups::Rollups`] decided that), and
//! for which part of the time range each.
//!
//! ```text
//! [from, to) ──▶ per raw file: the steps it has rolled up and the
//!                query allows, coarsest first
//!            ──▶ split: [from ─ raw ─┤1m├──── 1h ────┤1m├─ raw ─ to)
//!                (each boundary the step's multiple nearest inside)
//!            ──▶ parts: (files, resolution, time ranges), one Parquet
//!                scan and time filter each
//! ```
//!
//! A rollup row holds a step's sum at the step's start, so a range cut at
//! multiples of the step sums the same rows as the raw files do. A raw
//! file whose rows expired (only its rollups kept) answers at its
//! coarsest allowed step, or its finest when none is allowed, over the
//! whole range.

use super::bounds::TimeBounds;
use super::scan::ScanScope;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Expr, col, lit};
use flarego_storage::schema::COL_TIME;
use flarego_storage::{FileEntry, FileKind, TierSnapshot};
use std::collections::BTreeMap;

/// What the query allows: rollup steps (ns) and its exact time range
/// `[from, to)` (`i64::MIN` / `i64::MAX` when open).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollupPlan {
    pub steps: Vec<i64>,
    pub from: i64,
    pub to: i64,
}

/// Files read at one resolution over some time ranges.
#[derive(Debug, Default)]
pub struct Part<'a> {
    pub files: Vec<&'a FileEntry>,
    /// Half-open ranges; empty means the whole query range.
    pub ranges: Vec<(i64, i64)>,
    /// The step these files are rolled up at (`None`: raw files).
    pub step: Option<i64>,
}

/// A part's resolution and time ranges.
type PartKey = (Option<i64>, Vec<(i64, i64)>);

/// The cold samples files of a scan, raw and rollups, with the ranges
/// each is read over.
pub fn choose<'a>(
    snap: &'a TierSnapshot,
    plan: &RollupPlan,
    bounds: TimeBounds,
    scope: &'a ScanScope,
) -> Vec<Part<'a>> {
    let manifest = &snap.manifest;
    let rollups = manifest.rollups_by_path();
    let tenant = scope.tenant.as_ref().map(|t| t.as_str());
    let mut parts: BTreeMap<PartKey, Vec<&'a FileEntry>> = BTreeMap::new();
    for f in manifest.entries_of(FileKind::Samples, tenant) {
        if !bounds.overlaps(f.min_time_ns, f.max_time_ns) {
            continue;
        }
        let t = f.tenant.as_deref().unwrap_or_default();
        let files_of = |step: i64| -> Vec<&'a FileEntry> {
            f.rollups
                .iter()
                .filter(|r| r.step_ns == step)
                .filter_map(|r| rollups.get(r.path.as_str()).copied())
                .collect()
        };
        let kept = |files: &[&FileEntry]| {
            snap.rollup_cutoffs
                .of(t)
                .is_none_or(|c| files.iter().all(|r| r.max_time_ns >= c))
        };
        let have = f.rollup_steps();
        let mut usable: Vec<i64> = have
            .iter()
            .copied()
            .filter(|s| plan.steps.contains(s))
            .collect();
        usable.sort_unstable_by(|a, b| b.cmp(a));
        if f.raw_expired {
            let Some(step) = usable.first().or(have.first()).copied() else {
                continue;
            };
            let files = files_of(step);
            if kept(&files) {
                parts
                    .entry((Some(step), Vec::new()))
                    .or_default()
                    .extend(files);
            }
            continue;
        }
        if snap.cutoffs.of(t).is_some_and(|c| f.max_time_ns < c) {
            continue; // past retention, not yet expired by the compactor
        }
        // Rollups only where every one of their rows is within retention.
        let within = |files: &[&FileEntry]| {
            snap.cutoffs
                .of(t)
                .is_none_or(|c| files.iter().all(|r| r.min_time_ns >= c))
        };
        usable.retain(|s| within(&files_of(*s)));
        let mut by_step: BTreeMap<Option<i64>, Vec<(i64, i64)>> = BTreeMap::new();
        for (step, lo, hi) in split(plan.from, plan.to, &usable) {
            by_step.entry(step).or_default().push((lo, hi));
        }
        for (step, ranges) in by_step {
            let files = match step {
                Some(s) => files_of(s),
                None => vec![f],
            };
            let whole = ranges == [(plan.from, plan.to)];
            let ranges = if whole { Vec::new() } else { ranges };
            parts.entry((step, ranges)).or_default().extend(files);
        }
    }
    parts
        .into_iter()
        .map(|((step, ranges), files)| Part {
            files,
            ranges,
            step,
        })
        .collect()
}

/// `time` within one of `ranges` as a filter (`None` for no ranges:
/// the whole query range).
pub fn ranges_expr(ranges: &[(i64, i64)]) -> Option<Expr> {
    let at = |v: i64| {
        lit(ScalarValue::TimestampNanosecond(
            Some(v),
            Some("UTC".into()),
        ))
    };
    ranges
        .iter()
        .map(|&(lo, hi)| {
            let mut e = lit(true);
            if lo != i64::MIN {
                e = col(COL_TIME).gt_eq(at(lo));
            }
            if hi != i64::MAX {
                e = e.and(col(COL_TIME).lt(at(hi)));
            }
            e
        })
        .reduce(Expr::or)
}

/// `[from, to)` split into pieces at the coarsest of `steps_desc` that
/// fits, then the finer ones, then raw (`None`).
pub fn split(from: i64, to: i64, steps_desc: &[i64]) -> Vec<(Option<i64>, i64, i64)> {
    if from >= to {
        return Vec::new();
    }
    let Some((&s, finer)) = steps_desc.split_first() else {
        return vec![(None, from, to)];
    };
    let lo = if from == i64::MIN {
        from
    } else {
        from.div_euclid(s)
            .saturating_add(i64::from(from.rem_euclid(s) != 0))
            * s
    };
    let hi = if to == i64::MAX {
        to
    } else {
        to.div_euclid(s) * s
    };
    if lo >= hi {
        return split(from, to, finer);
    }
    let mut out = split(from, lo, finer);
    out.push((Some(s), lo, hi));
    out.extend(split(hi, to, finer));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    const M: i64 = 60;
    const H: i64 = 3600;

    #[test]
    fn a_range_splits_at_the_coarsest_step_that_fits() {
        assert_eq!(
            split(30, 2 * H + 90, &[H, M]),
            vec![
                (None, 30, M),
                (Some(M), M, H),
                (Some(H), H, 2 * H),
                (Some(M), 2 * H, 2 * H + M),
                (None, 2 * H + M, 2 * H + 90),
            ]
        );
        // Shorter than an hour: minutes and raw only.
        assert_eq!(
            split(0, 150, &[H, M]),
            vec![(Some(M), 0, 120), (None, 120, 150)]
        );
        assert_eq!(split(10, 20, &[H, M]), vec![(None, 10, 20)]);
        // Open ends are taken as aligned.
        assert_eq!(
            split(i64::MIN, 90, &[M]),
            vec![(Some(M), i64::MIN, 60), (None, 60, 90)]
        );
        assert_eq!(split(5, 5, &[M]), vec![]);
    }
}

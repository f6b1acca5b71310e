//! Per-window values from cumulative pprof profiles.
//!
//! Go's `allocs`, `heap` (its `alloc_*` types), `block` and `mutex`
//! profiles count from process start. The agent keeps the previous
//! scrape and sends the difference, so a window holds what happened in
//! it. Samples are matched by their frame names and labels, not by
//! location ids (which differ between scrapes). Types that are not
//! cumulative (`inuse_*`) pass through as they are. A counter that went
//! down means the process restarted: the current profile counts from
//! that restart, so it is sent whole.

use flarego_proto::pprof::{Profile, Sample};
use std::collections::HashMap;

/// Whether a sample type (its name in the string table) counts since start.
pub fn is_cumulative(sample_type: &str) -> bool {
    matches!(
        sample_type,
        "alloc_objects" | "alloc_space" | "contentions" | "delay"
    )
}

/// Identity of a sample across scrapes: frame names and string labels.
type SampleKey = (Vec<String>, Vec<(String, String)>);

/// Builds [`SampleKey`]s for the samples of one profile.
struct Keyer<'a> {
    p: &'a Profile,
    func_name: HashMap<u64, i64>,
    loc: HashMap<u64, &'a flarego_proto::pprof::Location>,
}

impl<'a> Keyer<'a> {
    fn new(p: &'a Profile) -> Self {
        Keyer {
            p,
            func_name: p.function.iter().map(|f| (f.id, f.name)).collect(),
            loc: p.location.iter().map(|l| (l.id, l)).collect(),
        }
    }

    fn sample_types(&self) -> Vec<String> {
        self.p
            .sample_type
            .iter()
            .map(|t| self.string(t.r#type))
            .collect()
    }

    fn string(&self, i: i64) -> String {
        usize::try_from(i)
            .ok()
            .and_then(|i| self.p.string_table.get(i))
            .cloned()
            .unwrap_or_default()
    }

    fn key(&self, s: &Sample) -> SampleKey {
        let mut frames = Vec::new();
        for id in &s.location_id {
            match self.loc.get(id) {
                Some(l) if !l.line.is_empty() => {
                    for line in &l.line {
                        let name = self.func_name.get(&line.function_id).copied().unwrap_or(0);
                        frames.push(self.string(name));
                    }
                }
                Some(l) => frames.push(format!("0x{:x}", l.address)),
                None => frames.push(format!("?{id}")),
            }
        }
        let mut labels: Vec<(String, String)> = s
            .label
            .iter()
            .filter(|l| l.str != 0)
            .map(|l| (self.string(l.key), self.string(l.str)))
            .collect();
        labels.sort();
        (frames, labels)
    }
}

/// `current` with each cumulative value replaced by its growth since
/// `previous`. Returns `current` unchanged when there is no previous
/// scrape or a counter went down (the process restarted).
pub fn delta(current: &Profile, previous: Option<&Profile>) -> Profile {
    let Some(prev) = previous else {
        return current.clone();
    };
    let prev_keys = Keyer::new(prev);
    let cur_keys = Keyer::new(current);
    let cur_types = cur_keys.sample_types();
    if prev_keys.sample_types() != cur_types {
        return current.clone();
    }
    let cumulative: Vec<bool> = cur_types.iter().map(|t| is_cumulative(t)).collect();
    let mut before: HashMap<SampleKey, Vec<i64>> = HashMap::new();
    for s in &prev.sample {
        let e = before
            .entry(prev_keys.key(s))
            .or_insert_with(|| vec![0; s.value.len()]);
        for (i, v) in s.value.iter().enumerate() {
            if let Some(x) = e.get_mut(i) {
                *x += v;
            }
        }
    }
    let mut out = current.clone();
    let mut seen: HashMap<SampleKey, Vec<i64>> = HashMap::new();
    for s in out.sample.iter_mut() {
        let k = cur_keys.key(s);
        // Several samples may share a key: subtract the previous total once.
        let remaining = seen
            .entry(k.clone())
            .or_insert_with(|| before.get(&k).cloned().unwrap_or_default());
        for (i, v) in s.value.iter_mut().enumerate() {
            if !cumulative.get(i).copied().unwrap_or(false) {
                continue;
            }
            let Some(r) = remaining.get_mut(i) else {
                continue;
            };
            let take = (*r).min(*v);
            *v -= take;
            *r -= take;
        }
    }
    // Previous counts not used up (a stack vanished or shrank) mean the
    // counters went down: the process restarted.
    let shrank = before.iter().any(|(k, prev)| {
        let left = seen.get(k).unwrap_or(prev);
        left.iter()
            .enumerate()
            .any(|(i, v)| *v > 0 && cumulative.get(i).copied().unwrap_or(false))
    });
    if shrank {
        return current.clone();
    }
    out.sample.retain(|s| s.value.iter().any(|v| *v != 0));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use flarego_proto::pprof::{Function, Line, Location, ValueType};

    /// A profile with types (alloc_objects, inuse_objects) and one sample
    /// per `(frames, alloc, inuse)`; ids start at `id_base` so scrapes differ.
    fn heap(id_base: u64, samples: &[(&[&str], i64, i64)]) -> Profile {
        let mut p = Profile {
            string_table: vec![
                "".into(),
                "alloc_objects".into(),
                "count".into(),
                "inuse_objects".into(),
            ],
            sample_type: vec![
                ValueType { r#type: 1, unit: 2 },
                ValueType { r#type: 3, unit: 2 },
            ],
            ..Default::default()
        };
        let mut ids = HashMap::new();
        for (frames, a, u) in samples {
            let mut locs = Vec::new();
            for f in frames.iter().rev() {
                let n = ids.len() as u64;
                let id = *ids.entry(f.to_string()).or_insert_with(|| {
                    let id = id_base + n;
                    p.string_table.push(f.to_string());
                    let s = p.string_table.len() as i64 - 1;
                    p.function.push(Function {
                        id,
                        name: s,
                        ..Default::default()
                    });
                    p.location.push(Location {
                        id,
                        line: vec![Line {
                            function_id: id,
                            line: 1,
                            column: 0,
                        }],
                        ..Default::default()
                    });
                    id
                });
                locs.push(id);
            }
            p.sample.push(Sample {
                location_id: locs,
                value: vec![*a, *u],
                label: vec![],
            });
        }
        p
    }

    fn values(p: &Profile) -> Vec<Vec<i64>> {
        p.sample.iter().map(|s| s.value.clone()).collect()
    }

    #[test]
    fn cumulative_types_become_growth_and_others_pass() {
        let before = heap(1, &[(&["main", "a"], 10, 4), (&["main", "b"], 5, 5)]);
        let now = heap(
            100,
            &[
                (&["main", "b"], 8, 1),
                (&["main", "a"], 10, 4),
                (&["main", "c"], 2, 2),
            ],
        );
        let d = delta(&now, Some(&before));
        // b grew by 3 (inuse stays 1), a did not grow but is in use, c is new.
        assert_eq!(values(&d), vec![vec![3, 1], vec![0, 4], vec![2, 2]]);
        assert_eq!(values(&delta(&now, None)), values(&now));
    }

    #[test]
    fn a_counter_that_went_down_means_a_restart() {
        let before = heap(1, &[(&["main", "a"], 10, 4)]);
        let now = heap(1, &[(&["main", "a"], 3, 3)]);
        assert_eq!(values(&delta(&now, Some(&before))), vec![vec![3, 3]]);
    }
}

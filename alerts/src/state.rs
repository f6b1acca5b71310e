//! Alert instance states, as Prometheus defines them:
//!
//! ```text
//! (condition holds) ──▶ pending ──(held for `for`)──▶ firing ──(stopped holding
//!        ▲                 │                            │     for `keep_firing_for`)
//!        │                 └─(stops holding)─▶ gone     ▼
//!        └──────────────────────────────────────── resolved
//! ```
//!
//! A firing instance notifies once, again every `repeat_interval` while
//! it fires, and once on resolve. [`step`] is pure: it takes the time of
//! the evaluation, so tests drive it with any clock.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The state of a live instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Pending,
    Firing,
}

/// One (rule, group) instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Instance {
    pub labels: BTreeMap<String, String>,
    pub phase: Phase,
    pub value: f64,
    /// When the condition started holding.
    pub active_since_ns: i64,
    /// When it started firing.
    pub fired_at_ns: Option<i64>,
    /// The last evaluation at which the condition held.
    pub last_true_ns: i64,
    /// The last firing notification (first or repeat).
    pub last_notified_ns: Option<i64>,
    /// While firing under `keep_firing_for`: the first evaluation at which
    /// the condition no longer held.
    #[serde(default)]
    pub keep_firing_since_ns: Option<i64>,
}

/// A rule's timings.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub for_ns: i64,
    pub keep_firing_for_ns: i64,
    pub repeat_interval_ns: i64,
}

/// What happened to an instance in one evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    /// Started holding; waits for `for`.
    Pending,
    /// Fired (notify).
    Firing,
    /// Still firing after `repeat_interval` (notify again).
    Repeat,
    /// Stopped firing (notify).
    Resolved,
    /// Stopped holding before it fired.
    Inactive,
}

/// One change with the instance as it was after it.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub fingerprint: String,
    pub change: Change,
    pub instance: Instance,
    pub at_ns: i64,
}

/// Advances `instances` (by fingerprint) to time `now_ns`, given the
/// groups where the condition holds (fingerprint → labels, value).
pub fn step(
    instances: &mut BTreeMap<String, Instance>,
    holding: BTreeMap<String, (BTreeMap<String, String>, f64)>,
    now_ns: i64,
    t: Timing,
) -> Vec<Event> {
    let mut events = Vec::new();
    let mut emit = |fp: &str, change, i: &Instance| {
        events.push(Event {
            fingerprint: fp.to_string(),
            change,
            instance: i.clone(),
            at_ns: now_ns,
        })
    };
    for (fp, (labels, value)) in &holding {
        let new = !instances.contains_key(fp);
        let i = instances.entry(fp.clone()).or_insert_with(|| Instance {
            labels: labels.clone(),
            phase: Phase::Pending,
            value: *value,
            active_since_ns: now_ns,
            fired_at_ns: None,
            last_true_ns: now_ns,
            last_notified_ns: None,
            keep_firing_since_ns: None,
        });
        i.value = *value;
        i.labels = labels.clone();
        i.last_true_ns = now_ns;
        i.keep_firing_since_ns = None;
        if new {
            emit(fp, Change::Pending, i);
        }
        match i.phase {
            Phase::Pending if now_ns - i.active_since_ns >= t.for_ns => {
                i.phase = Phase::Firing;
                i.fired_at_ns = Some(now_ns);
                i.last_notified_ns = Some(now_ns);
                emit(fp, Change::Firing, i);
            }
            Phase::Firing
                if i.last_notified_ns
                    .is_none_or(|n| now_ns - n >= t.repeat_interval_ns) =>
            {
                i.last_notified_ns = Some(now_ns);
                emit(fp, Change::Repeat, i);
            }
            _ => {}
        }
    }
    let gone: Vec<String> = instances
        .keys()
        .filter(|fp| !holding.contains_key(*fp))
        .cloned()
        .collect();
    for fp in gone {
        let Some(i) = instances.get_mut(&fp) else {
            continue;
        };
        match i.phase {
            Phase::Pending => {
                if let Some(i) = instances.remove(&fp) {
                    emit(&fp, Change::Inactive, &i);
                }
            }
            Phase::Firing => {
                // As Prometheus: keep firing for `keep_firing_for` after
                // the first evaluation that found the condition false.
                let since = *i.keep_firing_since_ns.get_or_insert(now_ns);
                if now_ns - since >= t.keep_firing_for_ns {
                    if let Some(i) = instances.remove(&fp) {
                        emit(&fp, Change::Resolved, &i);
                    }
                } else if i
                    .last_notified_ns
                    .is_none_or(|n| now_ns - n >= t.repeat_interval_ns)
                {
                    i.last_notified_ns = Some(now_ns);
                    let i = i.clone();
                    emit(&fp, Change::Repeat, &i);
                }
            }
        }
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    fn holding(on: bool, v: f64) -> BTreeMap<String, (BTreeMap<String, String>, f64)> {
        let mut m = BTreeMap::new();
        if on {
            m.insert("fp".to_string(), (BTreeMap::new(), v));
        }
        m
    }

    /// Runs evaluations every `every` seconds from 0, the condition
    /// holding at the times `on` says; returns (second, change).
    fn run(t: Timing, every: i64, until: i64, on: impl Fn(i64) -> bool) -> Vec<(i64, Change)> {
        let mut inst = BTreeMap::new();
        let mut out = Vec::new();
        let mut now = 0;
        while now <= until {
            for e in step(&mut inst, holding(on(now), 1.0), now * S, t) {
                out.push((now, e.change));
            }
            now += every;
        }
        out
    }

    #[test]
    fn for_delays_firing_and_a_short_blip_never_fires() {
        let t = Timing {
            for_ns: 30 * S,
            keep_firing_for_ns: 0,
            repeat_interval_ns: 4 * 3600 * S,
        };
        // Holds from 10 s to 60 s: pending at 10, firing at 40, resolved at 70.
        let ev = run(t, 10, 100, |s| (10..=60).contains(&s));
        assert_eq!(
            ev,
            [
                (10, Change::Pending),
                (40, Change::Firing),
                (70, Change::Resolved)
            ]
        );
        // Holds 10..=30: never 30 s long, so it never fires.
        let ev = run(t, 10, 100, |s| (10..=30).contains(&s));
        assert_eq!(ev, [(10, Change::Pending), (40, Change::Inactive)]);
    }

    #[test]
    fn keep_firing_for_rides_over_gaps() {
        let t = Timing {
            for_ns: 0,
            keep_firing_for_ns: 60 * S,
            repeat_interval_ns: 4 * 3600 * S,
        };
        // Holds at 0..=20 and 50..=60, then never: the gap of 30 s is
        // bridged; it resolves 60 s after the first evaluation that found
        // it false (70 s).
        let ev = run(t, 10, 200, |s| s <= 20 || (50..=60).contains(&s));
        assert_eq!(
            ev,
            [
                (0, Change::Pending),
                (0, Change::Firing),
                (130, Change::Resolved)
            ]
        );
    }

    #[test]
    fn repeat_interval_reminds_and_dedups() {
        let t = Timing {
            for_ns: 0,
            keep_firing_for_ns: 0,
            repeat_interval_ns: 3600 * S,
        };
        // Fires at 0, reminders at 3600 and 7200, resolves at 8000.
        let ev = run(t, 100, 8000, |s| s < 8000);
        assert_eq!(
            ev,
            [
                (0, Change::Pending),
                (0, Change::Firing),
                (3600, Change::Repeat),
                (7200, Change::Repeat),
                (8000, Change::Resolved)
            ]
        );
    }
}

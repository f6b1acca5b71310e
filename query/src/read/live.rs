//! Live tail: each write the server applies, seen through a selection.
//!
//! A subscriber's [`LiveFilter`] picks the rows of a
//! [`LiveEvent`](flarego_storage::live::LiveEvent) whose series match
//! (tenant scope, profile type, matchers) and renders them as one
//! [`LiveUpdate`]: the write's total, one timeline point per window it
//! touched, and its flame-graph contribution in the read API's columnar
//! form (`focus`/`ignore`/`hide` applied). Time bounds of the selection
//! do not apply: live tail is about what arrives next.

use super::browse::subject;
use super::matchers::{Compiled, Matcher};
use super::tree::{Columnar, Tree};
use super::{ReadError, Selection};
use flarego_storage::live::LiveEvent;
use flarego_storage::series_index::SeriesEntry;
use flarego_storage::{Engine, TenantId};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// Which rows of each write a subscriber wants.
#[derive(Debug, Clone)]
pub struct LiveFilter {
    scope: Option<TenantId>,
    matchers: Vec<Compiled>,
    sel: Selection,
}

/// One point of the live timeline: a window's start and its value.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LivePoint {
    pub time: i64,
    pub value: i64,
}

/// What a subscriber is sent for one write.
#[derive(Debug, Clone, Serialize)]
pub struct LiveUpdate {
    /// The write's LSN: resume after it with `cursor=`.
    pub cursor: u64,
    pub profile_type: String,
    pub unit: String,
    pub total: i64,
    pub points: Vec<LivePoint>,
    pub flamegraph: Columnar,
}

impl LiveFilter {
    pub fn new(scope: Option<TenantId>, sel: Selection) -> Result<Self, ReadError> {
        let matchers = sel
            .matchers
            .iter()
            .map(Matcher::compile)
            .collect::<Result<_, _>>()?;
        Ok(LiveFilter {
            scope,
            matchers,
            sel,
        })
    }

    fn wants(&self, key: &flarego_storage::SeriesKey) -> bool {
        if key.profile_type != self.sel.profile_type
            || self.scope.as_ref().is_some_and(|t| *t != key.tenant)
        {
            return false;
        }
        let entry = SeriesEntry::from(key);
        self.matchers
            .iter()
            .all(|m| m.matches(subject(&entry, &m.matcher.name, false).unwrap_or("")))
    }

    /// The update `event` makes for this subscriber, if any of its rows
    /// match (CPU and, for evicted stacks, reads: call off the async
    /// workers).
    pub fn render(
        &self,
        engine: &Engine,
        event: &LiveEvent,
    ) -> Result<Option<LiveUpdate>, ReadError> {
        let wanted: HashMap<u32, &flarego_storage::SeriesKey> = event
            .series
            .iter()
            .filter(|(_, k)| self.wants(k))
            .map(|(i, k)| (*i, k.as_ref()))
            .collect();
        if wanted.is_empty() {
            return Ok(None);
        }
        let unit = wanted
            .values()
            .next()
            .map(|k| k.unit.clone())
            .unwrap_or_default();
        let mut per_stack: HashMap<(u64, i64), i64> = HashMap::new();
        for (w, c) in &event.samples {
            for i in 0..c.len() {
                if wanted.contains_key(&c.series[i]) {
                    let s = per_stack.entry((c.stacks[i], w.0)).or_default();
                    *s = s.saturating_add(c.values[i]);
                }
            }
        }
        let ids: Vec<u64> = per_stack.keys().map(|(id, _)| *id).collect();
        let frames: HashMap<u64, _> = ids
            .iter()
            .copied()
            .zip(
                engine
                    .frames_of(&ids)
                    .map_err(|e| crate::Error::Execution(e.to_string()))?,
            )
            .collect();
        let mut tree = Tree::new();
        let mut per_window: BTreeMap<i64, i64> = BTreeMap::new();
        for ((id, window), v) in per_stack {
            let Some(Some(f)) = frames.get(&id) else {
                continue;
            };
            if let Some(kept) = self.sel.filter_frames(f) {
                tree.add(&kept, v, false);
                let p = per_window.entry(window).or_default();
                *p = p.saturating_add(v);
            }
        }
        if tree.is_empty() {
            return Ok(None);
        }
        Ok(Some(LiveUpdate {
            cursor: event.lsn.0,
            profile_type: self.sel.profile_type.clone(),
            unit,
            total: tree.total(),
            points: per_window
                .into_iter()
                .map(|(time, value)| LivePoint { time, value })
                .collect(),
            flamegraph: tree.columnar(None, false),
        }))
    }
}

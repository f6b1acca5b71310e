//! Label browsing: services, profile types, metric names, label names and
//! label values within a time range, most frequent first.
//!
//! Answered from series metadata, never from sample rows' values: the
//! hot windows' series numbers (counted per window, then looked up in the
//! series table) and, for cold files, the series list each file keeps in
//! its footer ([`flarego_storage::series_index`], read once per file and
//! cached). A cold file counts whole when it overlaps the range (files
//! hold at most an hour). Frequency is the number of rows a value has:
//! (window, series, stack) rows for profiles, points for metrics.

use super::ReadError;
use super::matchers::{Compiled, Matcher};
use crate::QueryEngine;
use flarego_storage::series_index::SeriesEntry;
use flarego_storage::{FileKind, TenantId, TierSnapshot};
use serde::Serialize;
use std::collections::HashMap;

/// Values listed at most, when the request names no `limit`.
pub const DEFAULT_LIMIT: usize = 1000;

/// What to list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listing {
    Services,
    /// Profile types with their units.
    ProfileTypes,
    /// Metric names (the `metrics` table).
    MetricNames,
    /// Label names (`service`, `instance`, `state` among them when set).
    Labels,
    /// Values of one label (or of `service`, `instance`, `state`,
    /// `profile_type`).
    LabelValues(String),
}

/// Which series a listing looks at.
#[derive(Debug, Clone)]
pub struct BrowseRequest {
    pub listing: Listing,
    pub from_ns: i64,
    pub to_ns: i64,
    /// Series must match all of these (`service=`, `query=`).
    pub matchers: Vec<Matcher>,
    /// Only series of this profile type, when given.
    pub profile_type: Option<String>,
    /// Only values starting with this.
    pub prefix: String,
    pub limit: usize,
}

/// One listed value and how many rows carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Listed {
    pub name: String,
    /// The unit, for profile types.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    pub rows: u64,
}

/// A listing: values by frequency (ties by name), at most `limit`.
#[derive(Debug, Clone, Serialize)]
pub struct Browse {
    pub values: Vec<Listed>,
    /// Distinct values before the limit.
    pub total: usize,
    pub truncated: bool,
}

impl QueryEngine {
    /// Lists what `req` asks for in `scope`.
    pub async fn browse(
        &self,
        scope: Option<TenantId>,
        req: &BrowseRequest,
    ) -> Result<Browse, ReadError> {
        let matchers: Vec<Compiled> = req
            .matchers
            .iter()
            .map(Matcher::compile)
            .collect::<Result<_, _>>()?;
        let kind = match req.listing {
            Listing::MetricNames => FileKind::Metrics,
            _ => FileKind::Samples,
        };
        let series = self
            .series_in_range(scope, kind, req.from_ns, req.to_ns)
            .await?;
        Ok(list(series, &matchers, req))
    }

    /// Every series of `kind` in `scope` with rows in `[from_ns, to_ns)`,
    /// with its number of rows: from series metadata only.
    pub(crate) async fn series_in_range(
        &self,
        scope: Option<TenantId>,
        kind: FileKind,
        from_ns: i64,
        to_ns: i64,
    ) -> Result<HashMap<SeriesEntry, u64>, ReadError> {
        let snap = self.engine().snapshot();
        let mut series = hot_series(&snap, kind, &scope, from_ns, to_ns);
        let files: Vec<_> = snap
            .manifest
            .files_of(kind, scope.as_ref().map(|t| t.as_str()))
            .filter(|f| f.min_time_ns < to_ns && f.max_time_ns >= from_ns)
            .cloned()
            .collect();
        for f in &files {
            let listed = self
                .engine()
                .series_cache()
                .of(self.engine().store().clone(), f)
                .await
                .map_err(|e| crate::Error::Execution(e.to_string()))?;
            for s in listed.iter() {
                *series.entry(s.series.clone()).or_default() += s.rows;
            }
        }
        Ok(series)
    }
}

/// Rows per series in the hot windows of the range.
fn hot_series(
    snap: &TierSnapshot,
    kind: FileKind,
    scope: &Option<TenantId>,
    from_ns: i64,
    to_ns: i64,
) -> HashMap<SeriesEntry, u64> {
    let n = match kind {
        FileKind::Metrics => snap.metric_series.len(),
        _ => snap.series.len(),
    };
    let mut rows = vec![0u64; n];
    let mut count = |ids: &[u32]| {
        for id in ids {
            if let Some(r) = rows.get_mut(*id as usize) {
                *r += 1;
            }
        }
    };
    for w in &snap.hot {
        let start = w.start.0;
        if start >= to_ns || start.saturating_add(snap.window_ns) <= from_ns {
            continue;
        }
        match kind {
            FileKind::Metrics => w.metrics.iter().for_each(|c| count(&c.series)),
            _ => w.samples.iter().for_each(|c| count(&c.series)),
        }
    }
    let in_scope = |t: &TenantId| scope.as_ref().is_none_or(|s| s == t);
    let mut out = HashMap::new();
    for (id, n) in rows.into_iter().enumerate() {
        if n == 0 {
            continue;
        }
        let entry = match kind {
            FileKind::Metrics => snap
                .metric_series
                .get(id)
                .filter(|k| in_scope(&k.tenant))
                .map(|k| SeriesEntry::from(k.as_ref())),
            _ => snap
                .series
                .get(id)
                .filter(|k| in_scope(&k.tenant))
                .map(|k| SeriesEntry::from(k.as_ref())),
        };
        if let Some(e) = entry {
            *out.entry(e).or_default() += n;
        }
    }
    out
}

/// The value a matcher or a listing reads from a series.
pub(crate) fn subject<'a>(s: &'a SeriesEntry, name: &str, metrics: bool) -> Option<&'a str> {
    match name {
        "service" | "service_name" => Some(&s.service),
        "instance" => Some(&s.instance),
        "profile_type" if !metrics => Some(&s.kind),
        "__name__" | "name" if metrics => Some(&s.kind),
        "state" => s.state.as_deref(),
        label => s.labels.get(label).map(String::as_str),
    }
}

/// Filters, counts and orders.
fn list(series: HashMap<SeriesEntry, u64>, matchers: &[Compiled], req: &BrowseRequest) -> Browse {
    let metrics = req.listing == Listing::MetricNames;
    let mut counts: HashMap<(String, Option<String>), u64> = HashMap::new();
    for (s, rows) in &series {
        if req.profile_type.as_ref().is_some_and(|t| *t != s.kind) {
            continue;
        }
        let passes = matchers
            .iter()
            .all(|m| m.matches(subject(s, &m.matcher.name, metrics).unwrap_or("")));
        if !passes {
            continue;
        }
        let mut add = |name: &str, unit: Option<&str>| {
            if name.starts_with(&req.prefix) {
                *counts
                    .entry((name.to_string(), unit.map(str::to_string)))
                    .or_default() += rows;
            }
        };
        match &req.listing {
            Listing::Services => add(&s.service, None),
            Listing::ProfileTypes => add(&s.kind, Some(&s.unit)),
            Listing::MetricNames => add(&s.kind, None),
            Listing::Labels => {
                add("service", None);
                if !s.instance.is_empty() {
                    add("instance", None);
                }
                if s.state.is_some() {
                    add("state", None);
                }
                for k in s.labels.keys() {
                    add(k, None);
                }
            }
            Listing::LabelValues(name) => {
                if let Some(v) = subject(s, name, metrics).filter(|v| !v.is_empty()) {
                    add(v, None);
                }
            }
        }
    }
    let mut values: Vec<Listed> = counts
        .into_iter()
        .map(|((name, unit), rows)| Listed { name, unit, rows })
        .collect();
    values.sort_by(|a, b| b.rows.cmp(&a.rows).then_with(|| a.name.cmp(&b.name)));
    let total = values.len();
    values.truncate(req.limit);
    Browse {
        truncated: values.len() < total,
        values,
        total,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::matchers::parse_selector;

    fn entry(service: &str, kind: &str, labels: &[(&str, &str)]) -> SeriesEntry {
        SeriesEntry {
            service: service.into(),
            instance: "i-1".into(),
            kind: kind.into(),
            unit: "count".into(),
            state: None,
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    fn req(listing: Listing, query: &str) -> (BrowseRequest, Vec<Compiled>) {
        let matchers = parse_selector("query", query).unwrap();
        let compiled = matchers.iter().map(|m| m.compile().unwrap()).collect();
        (
            BrowseRequest {
                listing,
                from_ns: 0,
                to_ns: i64::MAX,
                matchers,
                profile_type: None,
                prefix: String::new(),
                limit: 2,
            },
            compiled,
        )
    }

    #[test]
    fn lists_by_frequency_within_the_matchers_and_the_limit() {
        let series: HashMap<SeriesEntry, u64> = [
            (entry("api", "cpu", &[("env", "prod")]), 50),
            (entry("api", "goroutine", &[("env", "stage")]), 30),
            (entry("db", "cpu", &[("env", "prod"), ("zone", "a")]), 70),
            (entry("web", "cpu", &[]), 5),
        ]
        .into_iter()
        .collect();
        let (r, m) = req(Listing::Services, "");
        let b = list(series.clone(), &m, &r);
        let names: Vec<(&str, u64)> = b.values.iter().map(|v| (v.name.as_str(), v.rows)).collect();
        assert_eq!(names, [("api", 80), ("db", 70)]);
        assert_eq!((b.total, b.truncated), (3, true));

        let (r, m) = req(Listing::LabelValues("env".into()), r#"{env=~"pro.*"}"#);
        let b = list(series.clone(), &m, &r);
        let names: Vec<(&str, u64)> = b.values.iter().map(|v| (v.name.as_str(), v.rows)).collect();
        assert_eq!(names, [("prod", 120)]);

        let (mut r, m) = req(Listing::Labels, r#"{service="db"}"#);
        r.limit = 10;
        let b = list(series.clone(), &m, &r);
        let names: Vec<&str> = b.values.iter().map(|v| v.name.as_str()).collect();
        assert_eq!(names, ["env", "instance", "service", "zone"]);

        let (mut r, m) = req(Listing::ProfileTypes, "");
        r.prefix = "go".into();
        let b = list(series, &m, &r);
        assert_eq!(
            b.values,
            [Listed {
                name: "goroutine".into(),
                unit: Some("count".into()),
                rows: 30
            }]
        );
    }
}

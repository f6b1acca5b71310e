//! `ProfileTypes`, `LabelNames`, `LabelValues` and `Series`: answered
//! from series metadata (hot series numbers and cold files' series
//! indexes, as the read API's label browsing), never from sample rows.
//!
//! Each series is seen as Pyroscope labels it: `service_name` (FlareGo's
//! `service`), `instance`, `state` (goroutine profiles) and the series'
//! own labels, plus the labels of its profile type id —
//! `__profile_type__`, `__name__`, `__type__`, `__unit__`,
//! `__period_type__`, `__period_unit__`. Selectors match those labels
//! exactly as written; several selectors select the union.

use super::profile_types::{pyroscope_type, type_of_id};
use crate::QueryEngine;
use crate::read::ReadError;
use crate::read::matchers::{Compiled, Matcher};
use flarego_proto::types::v1::{LabelPair, ProfileType};
use flarego_storage::series_index::SeriesEntry;
use flarego_storage::{FileKind, TenantId};
use std::collections::{BTreeMap, BTreeSet};

/// A series as Pyroscope's labels, by name.
pub type PyroscopeLabels = BTreeMap<String, String>;

/// The Pyroscope labels of a FlareGo series.
pub fn labels_of(s: &SeriesEntry) -> PyroscopeLabels {
    let mut out: PyroscopeLabels = s.labels.clone();
    out.insert("service_name".into(), s.service.clone());
    if !s.instance.is_empty() {
        out.insert("instance".into(), s.instance.clone());
    }
    if let Some(state) = &s.state {
        out.insert("state".into(), state.clone());
    }
    let t = pyroscope_type(&s.kind, &s.unit);
    out.insert("__name__".into(), t.name);
    out.insert("__type__".into(), t.sample_type);
    out.insert("__unit__".into(), t.sample_unit);
    out.insert("__period_type__".into(), t.period_type);
    out.insert("__period_unit__".into(), t.period_unit);
    out.insert("__profile_type__".into(), t.id);
    out
}

/// Selectors (each a set of matchers), compiled; empty selects everything.
pub struct Selectors(Vec<Vec<Compiled>>);

impl Selectors {
    /// Parses the request's `matchers` (raw Prometheus selectors).
    pub fn parse(param: &str, raw: &[String]) -> Result<Selectors, ReadError> {
        let mut sets = Vec::new();
        for s in raw.iter().filter(|s| !s.trim().is_empty()) {
            let ms = crate::read::matchers::parse_selector(param, s)?;
            sets.push(ms.iter().map(Matcher::compile).collect::<Result<_, _>>()?);
        }
        Ok(Selectors(sets))
    }

    fn select(&self, labels: &PyroscopeLabels) -> bool {
        self.0.is_empty()
            || self.0.iter().any(|set| {
                set.iter().all(|m| {
                    let v = labels.get(&m.matcher.name).map_or("", String::as_str);
                    m.matches(v)
                })
            })
    }
}

impl QueryEngine {
    /// The Pyroscope labels of every profile series in `[from_ns, to_ns)`
    /// the selectors select.
    pub async fn pyroscope_series(
        &self,
        scope: Option<TenantId>,
        selectors: &Selectors,
        from_ns: i64,
        to_ns: i64,
    ) -> Result<Vec<PyroscopeLabels>, ReadError> {
        let series = self
            .series_in_range(scope, FileKind::Samples, from_ns, to_ns)
            .await?;
        Ok(series
            .keys()
            .map(labels_of)
            .filter(|l| selectors.select(l))
            .collect())
    }
}

/// Profile types of the series, sorted by id.
pub fn profile_types(series: &[PyroscopeLabels]) -> Vec<ProfileType> {
    let ids: BTreeSet<&str> = series
        .iter()
        .filter_map(|l| l.get("__profile_type__").map(String::as_str))
        .collect();
    ids.into_iter().map(type_of_id).collect()
}

/// Label names, sorted.
pub fn label_names(series: &[PyroscopeLabels]) -> Vec<String> {
    let names: BTreeSet<&String> = series.iter().flat_map(|l| l.keys()).collect();
    names.into_iter().cloned().collect()
}

/// Values of label `name`, sorted.
pub fn label_values(series: &[PyroscopeLabels], name: &str) -> Vec<String> {
    let values: BTreeSet<&String> = series
        .iter()
        .filter_map(|l| l.get(name))
        .filter(|v| !v.is_empty())
        .collect();
    values.into_iter().cloned().collect()
}

/// Distinct label sets, each kept to `names` (all labels when empty),
/// sorted.
pub fn label_sets(series: &[PyroscopeLabels], names: &[String]) -> Vec<Vec<LabelPair>> {
    let sets: BTreeSet<Vec<(&String, &String)>> = series
        .iter()
        .map(|l| {
            l.iter()
                .filter(|(k, _)| names.is_empty() || names.contains(k))
                .collect()
        })
        .collect();
    sets.into_iter()
        .map(|set| {
            set.into_iter()
                .map(|(name, value)| LabelPair {
                    name: name.clone(),
                    value: value.clone(),
                })
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(service: &str, kind: &str, unit: &str, state: Option<&str>) -> SeriesEntry {
        SeriesEntry {
            service: service.into(),
            instance: "i-1".into(),
            kind: kind.into(),
            unit: unit.into(),
            state: state.map(str::to_string),
            labels: [("env".to_string(), "prod".to_string())].into(),
        }
    }

    #[test]
    fn series_read_as_pyroscope_labels() {
        let series: Vec<PyroscopeLabels> = [
            entry("api", "cpu", "nanoseconds", None),
            entry("api", "goroutine", "count", Some("chan receive")),
            entry("db", "heap_inuse_space", "bytes", None),
        ]
        .iter()
        .map(labels_of)
        .collect();
        let sel = Selectors::parse(
            "matchers",
            &[r#"{service_name="api", __name__="goroutines"}"#.to_string()],
        )
        .unwrap();
        let picked: Vec<PyroscopeLabels> =
            series.iter().filter(|l| sel.select(l)).cloned().collect();
        assert_eq!(picked.len(), 1);
        assert_eq!(label_values(&picked, "state"), ["chan receive"]);
        let ids: Vec<String> = profile_types(&series).into_iter().map(|t| t.id).collect();
        assert_eq!(
            ids,
            [
                "goroutines:goroutine:count:goroutine:count",
                "memory:inuse_space:bytes:space:bytes",
                "process_cpu:cpu:nanoseconds:cpu:nanoseconds"
            ]
        );
        let names = label_names(&series);
        assert!(names.contains(&"service_name".to_string()) && names.contains(&"env".to_string()));
        let sets = label_sets(
            &series,
            &["service_name".to_string(), "__profile_type__".to_string()],
        );
        assert_eq!(sets.len(), 3);
        assert!(sets.iter().all(|s| s.len() == 2));
        let both = Selectors::parse(
            "matchers",
            &[
                r#"{service_name="db"}"#.into(),
                r#"{__type__="cpu"}"#.into(),
            ],
        )
        .unwrap();
        assert_eq!(series.iter().filter(|l| both.select(l)).count(), 2);
    }
}

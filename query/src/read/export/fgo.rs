//! `.fgo`: FlareGo's snapshot of a selection, a gzip-compressed JSON
//! document (specified in `docs/fgo.md`, JSON Schema in
//! `docs/fgo.schema.json`).
//!
//! It holds everything the UI shows for the selection: the flame tree
//! (unpruned, in the read API's columnar form), the per-function table,
//! the timeline, the goroutine-state series and the metrics of the range,
//! with the selection that produced it and where it came from. Readers
//! accept every `format_version` up to [`FORMAT_VERSION`] and refuse
//! newer ones by name; fields a version adds are optional to older
//! readers (unknown fields are ignored).

use super::super::browse::{BrowseRequest, Listing};
use super::super::matchers::selector_string;
use super::super::timeline::{Agg, GroupBy, Timeline};
use super::super::top::{SortBy, TopRow, table};
use super::super::tree::Columnar;
use super::super::{ReadError, Selection};
use crate::QueryEngine;
use crate::read::flame::tree_of;
use crate::read::stacks::StackValues;
use flarego_storage::TenantId;
use serde::{Deserialize, Serialize};

/// The version this build writes (and the newest it reads).
pub const FORMAT_VERSION: u32 = 1;
/// Metric names a snapshot holds at most.
const MAX_METRICS: usize = 100;

/// A snapshot document.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Fgo {
    pub format_version: u32,
    pub provenance: Provenance,
    pub selection: SelectionDoc,
    pub profile_type: String,
    pub unit: String,
    /// The selection's total (the flame tree's root, unscaled).
    pub total: i64,
    pub flamegraph: Columnar,
    /// Every function, by self value.
    pub top: Vec<TopRow>,
    /// The selection's values over the range (absent for imported pprof).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeline: Option<Timeline>,
    /// Goroutines per state over the range, for the same series.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goroutine_states: Option<Timeline>,
    /// The runtime metrics of the same series over the range.
    #[serde(default)]
    pub metrics: Vec<MetricSeries>,
}

/// Where a snapshot came from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Provenance {
    /// `flarego`.
    pub server: String,
    pub server_version: String,
    /// RFC 3339, UTC.
    pub created: String,
    /// `export`, or `pprof` for a snapshot made from an imported pprof.
    pub source: String,
}

/// The selection, as a request would name it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SelectionDoc {
    /// Prometheus selector, `{}` for everything.
    pub query: String,
    /// RFC 3339, UTC.
    pub from: String,
    pub to: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub focus: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hide: Option<String>,
}

/// One metric's points.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MetricSeries {
    pub name: String,
    pub timeline: Timeline,
}

/// Why an `.fgo` document was refused.
#[derive(Debug, thiserror::Error)]
pub enum FgoError {
    #[error("not an .fgo document: {0}")]
    Malformed(String),
    #[error(
        "the .fgo document has format_version {found}, newer than this server reads (up to {FORMAT_VERSION})"
    )]
    NewerVersion { found: u64 },
}

/// RFC 3339 of ns since the epoch.
pub fn rfc3339(ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(ns).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

impl Fgo {
    /// Reads a (decompressed) document, any version this build knows.
    pub fn parse(json: &[u8]) -> Result<Fgo, FgoError> {
        #[derive(Deserialize)]
        struct Version {
            format_version: u64,
        }
        let v: Version =
            serde_json::from_slice(json).map_err(|e| FgoError::Malformed(e.to_string()))?;
        if v.format_version > u64::from(FORMAT_VERSION) || v.format_version == 0 {
            if v.format_version == 0 {
                return Err(FgoError::Malformed(
                    "format_version 0 does not exist".into(),
                ));
            }
            return Err(FgoError::NewerVersion {
                found: v.format_version,
            });
        }
        let doc: Fgo =
            serde_json::from_slice(json).map_err(|e| FgoError::Malformed(e.to_string()))?;
        doc.check()?;
        Ok(doc)
    }

    /// The columnar arrays agree with each other.
    fn check(&self) -> Result<(), FgoError> {
        let t = &self.flamegraph;
        let n = t.name.len();
        let bad = |what: &str| Err(FgoError::Malformed(format!("flamegraph: {what}")));
        if t.depth.len() != n || t.total.len() != n || t.self_.len() != n {
            return bad("name, depth, total and self differ in length");
        }
        if t.name.iter().any(|i| *i as usize >= t.names.len()) {
            return bad("a name index is outside names");
        }
        if n > 0 && t.depth[0] != 0 {
            return bad("the first node is not the root");
        }
        if t.depth.windows(2).any(|w| w[1] > w[0] + 1 || w[1] == 0) {
            return bad("depths are not a pre-order of one tree");
        }
        if t.scale < 1 {
            return bad("scale must be at least 1");
        }
        Ok(())
    }

    /// The document made from stacks (an imported pprof, or an export).
    pub fn from_stacks(
        stacks: &StackValues,
        profile_type: &str,
        selection: SelectionDoc,
        source: &str,
    ) -> Fgo {
        let tree = tree_of(stacks);
        let (total, _, top) = table(stacks, SortBy::SelfValue, None);
        Fgo {
            format_version: FORMAT_VERSION,
            provenance: Provenance {
                server: "flarego".into(),
                server_version: env!("CARGO_PKG_VERSION").into(),
                created: rfc3339(chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0)),
                source: source.into(),
            },
            selection,
            profile_type: profile_type.into(),
            unit: stacks.unit.clone(),
            total,
            flamegraph: tree.columnar(None, false),
            top,
            timeline: None,
            goroutine_states: None,
            metrics: Vec::new(),
        }
    }

    /// The flame tree's stacks (what pprof and folded exports write).
    pub fn stack_values(&self) -> StackValues {
        StackValues {
            unit: self.unit.clone(),
            stacks: self.flamegraph.stacks(),
        }
    }
}

impl SelectionDoc {
    pub fn of(sel: &Selection) -> Self {
        SelectionDoc {
            query: selector_string(&sel.matchers),
            from: rfc3339(sel.from_ns),
            to: rfc3339(sel.to_ns),
            focus: sel.focus.as_ref().map(|r| r.as_str().to_string()),
            ignore: sel.ignore.as_ref().map(|r| r.as_str().to_string()),
            hide: sel.hide.as_ref().map(|r| r.as_str().to_string()),
        }
    }
}

impl QueryEngine {
    /// The `.fgo` document of `sel`.
    pub async fn snapshot_of(
        &self,
        scope: Option<TenantId>,
        sel: &Selection,
    ) -> Result<Fgo, ReadError> {
        let stacks = self.stack_values(scope.clone(), sel).await?;
        let mut doc = flarego_storage::blocking(|| {
            Fgo::from_stacks(&stacks, &sel.profile_type, SelectionDoc::of(sel), "export")
        });
        doc.timeline = Some(
            self.timeline(scope.clone(), sel, None, &GroupBy::None, 0)
                .await?,
        );
        let mut goroutines = sel.clone();
        goroutines.profile_type = "goroutine".into();
        goroutines.matchers.retain(|m| m.name != "state");
        doc.goroutine_states = Some(
            self.timeline(scope.clone(), &goroutines, None, &GroupBy::State, 0)
                .await?,
        );
        let names = self
            .browse(
                scope.clone(),
                &BrowseRequest {
                    listing: Listing::MetricNames,
                    from_ns: sel.from_ns,
                    to_ns: sel.to_ns,
                    matchers: goroutines.matchers.clone(),
                    profile_type: None,
                    prefix: String::new(),
                    limit: MAX_METRICS,
                },
            )
            .await?;
        let mut names: Vec<String> = names.values.into_iter().map(|v| v.name).collect();
        names.sort();
        for name in names {
            let timeline = self
                .metric_series(
                    scope.clone(),
                    &goroutines,
                    &name,
                    None,
                    &GroupBy::None,
                    Agg::Avg,
                    0,
                )
                .await?;
            doc.metrics.push(MetricSeries { name, timeline });
        }
        Ok(doc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn doc() -> Fgo {
        let s = |f: &[&str], v| {
            (
                f.iter().map(|x| Arc::<str>::from(*x)).collect::<Vec<_>>(),
                v,
            )
        };
        let stacks = StackValues {
            unit: "count".into(),
            stacks: vec![s(&["main", "a"], 4), s(&["main", "b"], 6)],
        };
        Fgo::from_stacks(
            &stacks,
            "goroutine",
            SelectionDoc {
                query: "{}".into(),
                from: rfc3339(0),
                to: rfc3339(1_000),
                focus: None,
                ignore: None,
                hide: None,
            },
            "export",
        )
    }

    #[test]
    fn round_trips_and_refuses_newer_versions_by_name() {
        let d = doc();
        let json = serde_json::to_vec(&d).unwrap();
        assert_eq!(Fgo::parse(&json).unwrap(), d);
        let mut stacks = d.stack_values().stacks;
        stacks.sort();
        assert_eq!(stacks.len(), 2);
        assert_eq!(stacks[1].1, 6);

        let mut v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        v["format_version"] = 7.into();
        let e = Fgo::parse(&serde_json::to_vec(&v).unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("format_version 7") && e.contains("up to 1"),
            "{e}"
        );

        let mut v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        v["flamegraph"]["depth"] = serde_json::json!([0, 2, 1, 1]);
        let e = Fgo::parse(&serde_json::to_vec(&v).unwrap())
            .unwrap_err()
            .to_string();
        assert!(e.contains("pre-order"), "{e}");
        for junk in [&b"{"[..], b"[]", b"{\"format_version\": 1}"] {
            assert!(matches!(Fgo::parse(junk), Err(FgoError::Malformed(_))));
        }
    }
}

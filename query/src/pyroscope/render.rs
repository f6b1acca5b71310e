//! Pyroscope's legacy HTTP read API: `GET /pyroscope/render` (a flame
//! graph as "flamebearer" JSON with its timeline) and
//! `/pyroscope/render-diff` (two selections, seven numbers per node).
//!
//! `query` is `<profile type id>{<matchers>}`; `from`/`until` take
//! `now-1h`, Unix seconds/ms/ns or RFC 3339 (both default to now, `from`
//! to an hour before `until`). The timeline's step is the range / 1,500,
//! at least 15 s, and its samples are sums per step, zeros included.

use super::levels::{flame_graph, flame_graph_diff};
use super::profile_types::type_of_id;
use super::request::{matchers, max_nodes, profile_type};
use crate::QueryEngine;
use crate::read::diff::diff_of;
use crate::read::flame::tree_of;
use crate::read::time::parse_time;
use crate::read::timeline::{GroupBy, Timeline};
use crate::read::{ReadError, Selection};
use flarego_proto::querier::v1::Level;
use flarego_storage::TenantId;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// The flame graph part of a flamebearer.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Flamebearer {
    pub names: Vec<String>,
    pub levels: Vec<Vec<i64>>,
    pub num_ticks: i64,
    pub max_self: i64,
}

/// What the values are.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    /// `single`, or `double` for a diff.
    pub format: String,
    pub spy_name: String,
    pub sample_rate: u32,
    pub units: String,
    pub name: String,
}

/// Values per step.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RenderTimeline {
    /// Start of the first step, Unix seconds.
    pub start_time: i64,
    pub samples: Vec<u64>,
    /// Seconds per step.
    pub duration_delta: i64,
    pub watermarks: Option<HashMap<i64, i64>>,
}

/// A `/pyroscope/render` (or `render-diff`) answer.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FlamebearerProfile {
    pub version: u32,
    pub flamebearer: Flamebearer,
    pub metadata: Metadata,
    pub timeline: Option<RenderTimeline>,
    pub groups: Option<BTreeMap<String, RenderTimeline>>,
    pub heatmap: Option<()>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub left_ticks: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub right_ticks: Option<i64>,
}

/// One side of a render request.
#[derive(Debug, Clone)]
pub struct RenderQuery {
    pub sel: Selection,
    pub id: String,
}

/// Reads `query`, `from` and `until` (named by `names`) from `params`.
pub fn parse_query(
    params: &BTreeMap<String, String>,
    names: [&str; 3],
    now_ns: i64,
) -> Result<RenderQuery, ReadError> {
    let [q, from, until] = names;
    let raw = params.get(q).map(String::as_str).unwrap_or("");
    let (id, selector) = match raw.find('{') {
        Some(i) => (raw[..i].trim(), &raw[i..]),
        None => (raw.trim(), ""),
    };
    if id.is_empty() {
        return Err(ReadError::param(
            q,
            format!("{raw:?} must contain a profile-type selection: <profile type id>{{labels}}"),
        ));
    }
    let t = profile_type(q, id)?;
    let to_ns = match params.get(until) {
        Some(v) => parse_time(until, v, now_ns)?,
        None => now_ns,
    };
    let from_ns = match params.get(from) {
        Some(v) => parse_time(from, v, now_ns)?,
        None => to_ns.saturating_sub(3_600_000_000_000),
    };
    if from_ns >= to_ns {
        return Err(ReadError::param(
            from,
            format!("{from} must be before {until}"),
        ));
    }
    Ok(RenderQuery {
        sel: Selection {
            profile_type: t,
            matchers: matchers(q, selector)?,
            from_ns,
            to_ns,
            focus: None,
            ignore: None,
            hide: None,
            call_site: Vec::new(),
            tenant: None,
        },
        id: id.to_string(),
    })
}

/// `max-nodes` (or `maxNodes`): 0 or absent is the default.
pub fn parse_max_nodes(params: &BTreeMap<String, String>) -> Result<usize, ReadError> {
    let raw = params.get("max-nodes").or_else(|| params.get("maxNodes"));
    let n =
        match raw {
            None => None,
            Some(v) => Some(v.parse::<i64>().map_err(|_| {
                ReadError::param("max-nodes", format!("{v:?} is not a whole number"))
            })?),
        };
    max_nodes(n)
}

fn metadata(id: &str, format: &str) -> Metadata {
    let t = type_of_id(id);
    let (units, sample_rate) = match t.sample_type.as_str() {
        "inuse_objects" | "alloc_objects" | "goroutine" | "samples" => ("objects".to_string(), 100),
        "cpu" => ("samples".to_string(), 1_000_000_000),
        _ => (t.sample_unit.clone(), 100),
    };
    Metadata {
        format: format.into(),
        spy_name: String::new(),
        sample_rate,
        units,
        name: t.sample_type,
    }
}

fn plain_levels(levels: Vec<Level>) -> Vec<Vec<i64>> {
    levels.into_iter().map(|l| l.values).collect()
}

/// The step of a render timeline: range / 1,500, at least 15 s, whole
/// seconds.
pub fn render_step_secs(from_ns: i64, to_ns: i64) -> i64 {
    let secs = (to_ns - from_ns) as f64 / 1e9 / 1500.0;
    (secs.round() as i64).max(15)
}

fn render_timeline(t: &Timeline, values: &[f64]) -> RenderTimeline {
    RenderTimeline {
        start_time: t
            .times
            .first()
            .copied()
            .unwrap_or(0)
            .div_euclid(1_000_000_000),
        samples: values.iter().map(|v| v.max(0.0).round() as u64).collect(),
        duration_delta: t.step_ns / 1_000_000_000,
        watermarks: None,
    }
}

impl QueryEngine {
    /// `/pyroscope/render`: the flame graph and timeline of `q`, with a
    /// timeline per value of the `group_by` label when given.
    pub async fn render(
        &self,
        scope: Option<TenantId>,
        q: &RenderQuery,
        max_nodes: usize,
        group_by: Option<&str>,
    ) -> Result<FlamebearerProfile, ReadError> {
        let step = format!("{}s", render_step_secs(q.sel.from_ns, q.sel.to_ns));
        let (stacks, total, grouped) = tokio::join!(
            self.stack_values(scope.clone(), &q.sel),
            self.timeline(scope.clone(), &q.sel, Some(&step), &GroupBy::None, 0),
            async {
                match group_by {
                    None => Ok(None),
                    Some(label) => {
                        let g = match label {
                            "service_name" | "service" => GroupBy::Service,
                            "instance" => GroupBy::Instance,
                            "state" => GroupBy::State,
                            other => GroupBy::parse(Some(&format!("label:{other}")))?,
                        };
                        self.timeline(scope.clone(), &q.sel, Some(&step), &g, 0)
                            .await
                            .map(Some)
                    }
                }
            }
        );
        let (stacks, total, grouped) = (stacks?, total?, grouped?);
        let fg = flarego_storage::blocking(|| {
            flame_graph(&tree_of(&stacks).columnar(Some(max_nodes), false))
        });
        let zeros = vec![0.0; total.times.len()];
        let sum = total.series.first().map_or(&zeros, |s| &s.values);
        Ok(FlamebearerProfile {
            version: 1,
            flamebearer: Flamebearer {
                names: fg.names,
                levels: plain_levels(fg.levels),
                num_ticks: fg.total,
                max_self: fg.max_self,
            },
            metadata: metadata(&q.id, "single"),
            timeline: Some(render_timeline(&total, sum)),
            groups: grouped.map(|g| {
                g.series
                    .iter()
                    .map(|s| (s.group.clone(), render_timeline(&g, &s.values)))
                    .collect()
            }),
            heatmap: None,
            left_ticks: None,
            right_ticks: None,
        })
    }

    /// `/pyroscope/render-diff`: `left` and `right` in one tree.
    pub async fn render_diff(
        &self,
        scope: Option<TenantId>,
        left: &RenderQuery,
        right: &RenderQuery,
        max_nodes: usize,
    ) -> Result<FlamebearerProfile, ReadError> {
        if left.sel.profile_type != right.sel.profile_type {
            return Err(ReadError::param(
                "rightQuery",
                format!("profile types must match: {} and {}", left.id, right.id),
            ));
        }
        let (a, b) = tokio::join!(
            self.stack_values(scope.clone(), &left.sel),
            self.stack_values(scope, &right.sel)
        );
        let (a, b) = (a?, b?);
        let fg = flarego_storage::blocking(|| {
            let (_, _, tree) = diff_of(&a, &b, false, Some(max_nodes));
            flame_graph_diff(&tree)
        });
        Ok(FlamebearerProfile {
            version: 1,
            flamebearer: Flamebearer {
                names: fg.names,
                levels: plain_levels(fg.levels),
                num_ticks: fg.total,
                max_self: fg.max_self,
            },
            metadata: metadata(&left.id, "double"),
            timeline: None,
            groups: None,
            heatmap: None,
            left_ticks: Some(fg.left_ticks),
            right_ticks: Some(fg.right_ticks),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_queries_name_a_profile_type_and_a_range() {
        let now = 1_800_000_000_000_000_000;
        let params: BTreeMap<String, String> = [
            (
                "query".to_string(),
                r#"process_cpu:cpu:nanoseconds:cpu:nanoseconds{service_name="api"}"#.to_string(),
            ),
            ("from".to_string(), "now-15m".to_string()),
        ]
        .into();
        let q = parse_query(&params, ["query", "from", "until"], now).unwrap();
        assert_eq!(q.sel.profile_type, "cpu");
        assert_eq!(q.sel.to_ns - q.sel.from_ns, 900_000_000_000);
        assert_eq!(q.sel.matchers[0].value, "api");
        let bare: BTreeMap<String, String> = [("query".to_string(), "{}".to_string())].into();
        let e = parse_query(&bare, ["query", "from", "until"], now)
            .unwrap_err()
            .to_string();
        assert!(e.contains("profile-type selection"), "{e}");
        assert_eq!(render_step_secs(0, 3_600_000_000_000), 15);
        assert_eq!(render_step_secs(0, 24 * 3_600_000_000_000), 58);
        let m = metadata("process_cpu:cpu:nanoseconds:cpu:nanoseconds", "single");
        assert_eq!(
            (m.units.as_str(), m.sample_rate),
            ("samples", 1_000_000_000)
        );
        let m = metadata("memory:inuse_space:bytes:space:bytes", "double");
        assert_eq!(
            (m.units.as_str(), m.name.as_str()),
            ("bytes", "inuse_space")
        );
    }
}

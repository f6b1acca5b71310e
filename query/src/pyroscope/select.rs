//! The Select… methods and `Diff`: the read API's own stacks, trees and
//! timelines (one code path with `/api/v1/flamegraph`, `/api/v1/diff`
//! and `/api/v1/timeline`), answered as Pyroscope's messages.
//!
//! - Flame graphs keep `max_nodes` nodes (8,192 by default, up to
//!   2^24), the rest merged into one `other` node per parent carrying
//!   exactly its value, so every self value shown is true.
//! - `span_selector` and `profile_id_selector` select series by the
//!   `span_id` and `profile_id` labels pprof samples carry.
//! - `stack_trace_selector.call_site` keeps the stacks that start with
//!   those functions (flame graphs and pprof only).
//! - No limit on the range's length.

use super::levels::{flame_graph, flame_graph_diff};
use super::request::{max_nodes, selection};
use crate::QueryEngine;
use crate::read::diff::diff_of;
use crate::read::export::pprof::{PprofHeader, profile};
use crate::read::flame::tree_of;
use crate::read::matchers::{Matcher, Op};
use crate::read::stacks::StackValues;
use crate::read::timeline::{GROUP_SEPARATOR, GroupBy};
use crate::read::{ReadError, Selection};
use flarego_proto::pprof::Profile;
use flarego_proto::querier::v1::{
    DiffRequest, DiffResponse, FlameGraph, PprofProfile, ProfileFormat, SelectMergeProfileRequest,
    SelectMergeSpanProfileRequest, SelectMergeSpanProfileResponse, SelectMergeStacktracesRequest,
    SelectMergeStacktracesResponse, SelectSeriesRequest, SelectSeriesResponse,
};
use flarego_proto::types::v1::{
    LabelPair, Point, Series, StackTraceSelector, TimeSeriesAggregationType,
};
use flarego_storage::TenantId;

/// Why a request asks for something not served (Connect `unimplemented`).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unsupported(pub String);

/// A Select… request failed: bad input, or a form not served.
#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Unsupported(#[from] Unsupported),
}

fn call_site(s: &Option<StackTraceSelector>) -> Vec<String> {
    s.as_ref()
        .map(|s| s.call_site.iter().map(|l| l.name.clone()).collect())
        .unwrap_or_default()
}

/// A matcher selecting series whose label `name` is one of `values`.
fn one_of(name: &str, values: &[String]) -> Option<Matcher> {
    (!values.is_empty()).then(|| Matcher {
        name: name.into(),
        op: Op::Re,
        value: values
            .iter()
            .map(|v| regex::escape(v))
            .collect::<Vec<_>>()
            .join("|"),
    })
}

/// The selection of a SelectMergeStacktraces request.
fn stacktraces_selection(r: &SelectMergeStacktracesRequest) -> Result<Selection, ReadError> {
    let mut sel = selection(
        &r.profile_type_id,
        &r.label_selector,
        r.start,
        r.end,
        call_site(&r.stack_trace_selector),
    )?;
    sel.matchers.extend(one_of("span_id", &r.span_selector));
    sel.matchers
        .extend(one_of("profile_id", &r.profile_id_selector));
    sel.matchers
        .extend(one_of("trace_id", &r.trace_id_selector));
    Ok(sel)
}

/// The pprof profile of some stacks, pruned to `max_nodes` when given.
fn pprof_of(stacks: &StackValues, sel: &Selection, max_nodes: Option<usize>) -> Profile {
    let header = PprofHeader {
        profile_type: &sel.profile_type,
        unit: &stacks.unit,
        from_ns: sel.from_ns,
        to_ns: sel.to_ns,
    };
    match max_nodes {
        None => profile(&stacks.stacks, &header),
        Some(n) => profile(&tree_of(stacks).columnar(Some(n), false).stacks(), &header),
    }
}

fn flame_of(stacks: &StackValues, max_nodes: usize) -> FlameGraph {
    flame_graph(&tree_of(stacks).columnar(Some(max_nodes), false))
}

impl QueryEngine {
    /// `SelectMergeStacktraces`: the flame graph, or with
    /// `PROFILE_FORMAT_PPROF` the merged pprof profile.
    pub async fn select_merge_stacktraces(
        &self,
        scope: Option<TenantId>,
        r: &SelectMergeStacktracesRequest,
    ) -> Result<SelectMergeStacktracesResponse, SelectError> {
        let format = ProfileFormat::try_from(r.format).unwrap_or(ProfileFormat::Unspecified);
        if matches!(format, ProfileFormat::Tree | ProfileFormat::Dot) {
            return Err(Unsupported(format!(
                "format {} is not served: use PROFILE_FORMAT_FLAMEGRAPH or PROFILE_FORMAT_PPROF",
                format.as_str_name()
            ))
            .into());
        }
        let limit = max_nodes(r.max_nodes)?;
        let sel = stacktraces_selection(r)?;
        let stacks = self.stack_values(scope, &sel).await?;
        Ok(flarego_storage::blocking(|| match format {
            ProfileFormat::Pprof => SelectMergeStacktracesResponse {
                pprof: Some(PprofProfile {
                    profile: Some(pprof_of(&stacks, &sel, r.max_nodes.map(|_| limit))),
                }),
                ..Default::default()
            },
            _ => SelectMergeStacktracesResponse {
                flamegraph: Some(flame_of(&stacks, limit)),
                ..Default::default()
            },
        }))
    }

    /// `SelectMergeSpanProfile`: the flame graph of the samples tagged
    /// with the given spans (`span_id` labels).
    pub async fn select_merge_span_profile(
        &self,
        scope: Option<TenantId>,
        r: &SelectMergeSpanProfileRequest,
    ) -> Result<SelectMergeSpanProfileResponse, SelectError> {
        let as_stacktraces = SelectMergeStacktracesRequest {
            profile_type_id: r.profile_type_id.clone(),
            label_selector: r.label_selector.clone(),
            start: r.start,
            end: r.end,
            max_nodes: r.max_nodes,
            format: r.format,
            span_selector: r.span_selector.clone(),
            ..Default::default()
        };
        let out = self
            .select_merge_stacktraces(scope, &as_stacktraces)
            .await?;
        Ok(SelectMergeSpanProfileResponse {
            flamegraph: out.flamegraph,
            tree: Vec::new(),
        })
    }

    /// `SelectMergeProfile`: the merged pprof profile (whole unless
    /// `max_nodes` is set).
    pub async fn select_merge_profile(
        &self,
        scope: Option<TenantId>,
        r: &SelectMergeProfileRequest,
    ) -> Result<Profile, SelectError> {
        let limit = max_nodes(r.max_nodes)?;
        let mut sel = selection(
            &r.profile_type_id,
            &r.label_selector,
            r.start,
            r.end,
            call_site(&r.stack_trace_selector),
        )?;
        sel.matchers
            .extend(one_of("profile_id", &r.profile_id_selector));
        sel.matchers
            .extend(one_of("trace_id", &r.trace_id_selector));
        let stacks = self.stack_values(scope, &sel).await?;
        let max_nodes = r.max_nodes.filter(|n| *n > 0).map(|_| limit);
        Ok(flarego_storage::blocking(|| {
            pprof_of(&stacks, &sel, max_nodes)
        }))
    }

    /// `Diff`: the left and right selections in one tree.
    pub async fn pyroscope_diff(
        &self,
        scope: Option<TenantId>,
        r: &DiffRequest,
    ) -> Result<DiffResponse, SelectError> {
        let (Some(left), Some(right)) = (&r.left, &r.right) else {
            return Err(ReadError::param("left", "both left and right are required").into());
        };
        let limit = max_nodes(left.max_nodes.or(right.max_nodes))?;
        let (a, b) = (stacktraces_selection(left)?, stacktraces_selection(right)?);
        if a.profile_type != b.profile_type {
            return Err(ReadError::param(
                "right.profile_typeID",
                format!(
                    "{} cannot be compared with {}",
                    right.profile_type_id, left.profile_type_id
                ),
            )
            .into());
        }
        let (sa, sb) = tokio::join!(
            self.stack_values(scope.clone(), &a),
            self.stack_values(scope, &b)
        );
        let (sa, sb) = (sa?, sb?);
        Ok(flarego_storage::blocking(|| {
            let (_, _, tree) = diff_of(&sa, &sb, false, Some(limit));
            DiffResponse {
                flamegraph: Some(flame_graph_diff(&tree)),
            }
        }))
    }

    /// `SelectSeries`: the timeline of the selection, one series per
    /// combination of the `group_by` labels, a point per step (the
    /// step's start, ms; empty steps as zeros).
    pub async fn select_series(
        &self,
        scope: Option<TenantId>,
        r: &SelectSeriesRequest,
    ) -> Result<SelectSeriesResponse, SelectError> {
        if r.stack_trace_selector
            .as_ref()
            .is_some_and(|s| !s.call_site.is_empty())
        {
            return Err(Unsupported(
                "stack_trace_selector is not served for SelectSeries: it applies to flame graphs and pprof"
                    .into(),
            )
            .into());
        }
        if r.aggregation == Some(TimeSeriesAggregationType::Average as i32) {
            return Err(Unsupported(
                "aggregation TIME_SERIES_AGGREGATION_TYPE_AVERAGE is not served: series are sums per step"
                    .into(),
            )
            .into());
        }
        if !r.step.is_finite() || r.step < 0.0 {
            return Err(
                ReadError::param("step", format!("{} is not a number of seconds", r.step)).into(),
            );
        }
        if r.limit.is_some_and(|l| l < 0) {
            return Err(ReadError::param("limit", "must not be negative").into());
        }
        let sel = selection(
            &r.profile_type_id,
            &r.label_selector,
            r.start,
            r.end,
            Vec::new(),
        )?;
        let id = super::profile_types::pyroscope_id(&sel.profile_type, "");
        let (group, columns) = group_by(&r.group_by, &id)?;
        let step =
            (r.step > 0.0).then(|| format!("{}ms", ((r.step * 1000.0).round() as i64).max(1)));
        let timeline = self
            .timeline(scope, &sel, step.as_deref(), &group, 0)
            .await?;
        let times_ms: Vec<i64> = timeline.times.iter().map(|t| t / 1_000_000).collect();
        let mut series: Vec<Series> = timeline
            .series
            .into_iter()
            .map(|s| {
                let mut values = s.group.split(GROUP_SEPARATOR);
                let labels = columns
                    .iter()
                    .map(|c| LabelPair {
                        name: c.name.clone(),
                        value: match &c.constant {
                            Some(v) => v.clone(),
                            None => values.next().unwrap_or_default().to_string(),
                        },
                    })
                    // As in Prometheus, an empty label is no label.
                    .filter(|l| !l.value.is_empty())
                    .collect();
                let points = s
                    .values
                    .iter()
                    .zip(&times_ms)
                    .map(|(v, t)| Point {
                        value: *v,
                        timestamp: *t,
                        ..Default::default()
                    })
                    .collect();
                Series { labels, points }
            })
            .collect();
        // Series come largest first: the limit keeps the top ones.
        if let Some(l) = r.limit.filter(|l| *l > 0) {
            series.truncate(l as usize);
        }
        series.sort_by(|a, b| {
            let key = |s: &Series| -> Vec<(String, String)> {
                s.labels
                    .iter()
                    .map(|l| (l.name.clone(), l.value.clone()))
                    .collect()
            };
            key(a).cmp(&key(b))
        });
        Ok(SelectSeriesResponse { series })
    }
}

/// One `group_by` label: read from the data, or constant for the
/// selection (a part of its profile type id).
struct Column {
    name: String,
    constant: Option<String>,
}

/// `group_by` labels as a timeline grouping and the label each series
/// value lands in.
fn group_by(names: &[String], id: &str) -> Result<(GroupBy, Vec<Column>), ReadError> {
    let mut parts = Vec::new();
    let mut columns = Vec::new();
    for name in names {
        if let Some(part) = super::profile_types::id_part(name, id) {
            columns.push(Column {
                name: name.clone(),
                constant: Some(part.to_string()),
            });
            continue;
        }
        let part = match name.as_str() {
            "service_name" | "service" => GroupBy::Service,
            "instance" => GroupBy::Instance,
            "state" => GroupBy::State,
            n if !n.is_empty()
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') =>
            {
                GroupBy::Label(n.to_string())
            }
            n => {
                return Err(ReadError::param(
                    "group_by",
                    format!("{n:?} is not a label name"),
                ));
            }
        };
        parts.push(part);
        columns.push(Column {
            name: name.clone(),
            constant: None,
        });
    }
    let group = match parts.len() {
        0 => GroupBy::None,
        _ => GroupBy::Many(parts),
    };
    Ok((group, columns))
}

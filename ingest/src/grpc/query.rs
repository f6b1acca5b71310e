//! `flarego.query.v1.QueryService`: the read API on the gRPC listener.
//!
//! Each call turns its request into the HTTP read API's parameters and
//! runs the same function the HTTP handler runs (same selection parsing,
//! authorization, tenant scope, rate limits and time budget), then turns
//! the answer into the proto messages. `Sql` streams the result as Arrow
//! IPC: the messages' bytes, concatenated, are one IPC stream.

use super::status_of;
use crate::auth::Permission;
use crate::routes::read::{self, Params};
use crate::state::SharedState;
use flarego_proto::flarego::query::v1 as pb;
use flarego_proto::flarego::query::v1::query_service_server::{QueryService, QueryServiceServer};
use flarego_query::read::tree::Columnar;
use futures::Stream;
use std::pin::Pin;
use tonic::{Request, Response, Status};

pub struct QueryApi {
    state: SharedState,
}

/// The service, with gzip both ways.
pub fn service(state: SharedState) -> QueryServiceServer<QueryApi> {
    QueryServiceServer::new(QueryApi { state })
        .accept_compressed(tonic::codec::CompressionEncoding::Gzip)
        .send_compressed(tonic::codec::CompressionEncoding::Gzip)
}

/// A selection as the HTTP parameters it stands for, names prefixed.
fn put_selection(p: &mut Params, prefix: &str, s: Option<&pb::Selection>) {
    let Some(s) = s else { return };
    let fields = [
        ("service", &s.service),
        ("query", &s.query),
        ("profile_type", &s.profile_type),
        ("state", &s.state),
        ("from", &s.from),
        ("to", &s.to),
        ("focus", &s.focus),
        ("ignore", &s.ignore),
        ("hide", &s.hide),
    ];
    for (name, v) in fields {
        if !v.is_empty() {
            p.insert(format!("{prefix}{name}"), v.clone());
        }
    }
    if !s.tenant.is_empty() {
        p.insert("tenant".into(), s.tenant.clone());
    }
}

fn put(p: &mut Params, name: &str, v: &str) {
    if !v.is_empty() {
        p.insert(name.into(), v.to_string());
    }
}

fn put_n(p: &mut Params, name: &str, v: u64) {
    if v > 0 {
        p.insert(name.into(), v.to_string());
    }
}

fn tree(c: Columnar) -> pb::Tree {
    pb::Tree {
        scale: c.scale,
        names: c.names,
        name: c.name,
        depth: c.depth,
        total: c.total,
        self_: c.self_,
        total_b: c.total_b,
        self_b: c.self_b,
        pruned_nodes: c.pruned_nodes,
        pruned_value: c.pruned_value,
    }
}

fn timeline(t: flarego_query::read::timeline::Timeline) -> pb::TimelineResponse {
    pb::TimelineResponse {
        step_ns: t.step_ns,
        times: t.times,
        series: t
            .series
            .into_iter()
            .map(|s| pb::Series {
                group: s.group,
                values: s.values,
                total: s.total,
            })
            .collect(),
        unit: t.unit,
    }
}

type SqlStream = Pin<Box<dyn Stream<Item = Result<pb::SqlResponse, Status>> + Send>>;

#[tonic::async_trait]
impl QueryService for QueryApi {
    async fn flame_graph(
        &self,
        request: Request<pb::FlameGraphRequest>,
    ) -> Result<Response<pb::FlameGraphResponse>, Status> {
        let headers = request.metadata().clone().into_headers();
        let r = request.into_inner();
        let mut p = Params::new();
        put_selection(&mut p, "", r.selection.as_ref());
        put_n(&mut p, "max_nodes", r.max_nodes);
        let f = read::flamegraph::flamegraph_of(&self.state, &headers, &p)
            .await
            .map_err(status_of)?;
        Ok(Response::new(pb::FlameGraphResponse {
            profile_type: f.profile_type,
            unit: f.unit,
            total: f.total,
            nodes: f.nodes as u64,
            tree: Some(tree(f.tree)),
        }))
    }

    async fn top(
        &self,
        request: Request<pb::TopRequest>,
    ) -> Result<Response<pb::TopResponse>, Status> {
        let headers = request.metadata().clone().into_headers();
        let r = request.into_inner();
        let mut p = Params::new();
        put_selection(&mut p, "", r.selection.as_ref());
        put(&mut p, "sort", &r.sort);
        put_n(&mut p, "limit", r.limit);
        let t = read::top::top_of(&self.state, &headers, &p)
            .await
            .map_err(status_of)?;
        Ok(Response::new(pb::TopResponse {
            profile_type: t.profile_type,
            unit: t.unit,
            total: t.total,
            functions: t.functions as u64,
            rows: t
                .rows
                .into_iter()
                .map(|r| pb::TopRow {
                    function: r.function,
                    self_: r.self_,
                    total: r.total,
                    self_percent: r.self_percent,
                    total_percent: r.total_percent,
                })
                .collect(),
        }))
    }

    async fn diff(
        &self,
        request: Request<pb::DiffRequest>,
    ) -> Result<Response<pb::DiffResponse>, Status> {
        let headers = request.metadata().clone().into_headers();
        let r = request.into_inner();
        let mut p = Params::new();
        put_selection(&mut p, "base_", r.base.as_ref());
        put_selection(&mut p, "comp_", r.comparison.as_ref());
        if r.normalize {
            p.insert("normalize".into(), "true".into());
        }
        put_n(&mut p, "max_nodes", r.max_nodes);
        let d = read::flamegraph::diff_of(&self.state, &headers, &p)
            .await
            .map_err(status_of)?;
        Ok(Response::new(pb::DiffResponse {
            profile_type: d.profile_type,
            unit: d.unit,
            base_total: d.base_total,
            comp_total: d.comp_total,
            comp_factor: d.comp_factor,
            nodes: d.nodes as u64,
            tree: Some(tree(d.tree)),
        }))
    }

    async fn timeline(
        &self,
        request: Request<pb::TimelineRequest>,
    ) -> Result<Response<pb::TimelineResponse>, Status> {
        let headers = request.metadata().clone().into_headers();
        let r = request.into_inner();
        let mut p = Params::new();
        put_selection(&mut p, "", r.selection.as_ref());
        put(&mut p, "step", &r.step);
        put(&mut p, "group_by", &r.group_by);
        put_n(&mut p, "limit", r.limit);
        put(&mut p, "agg", &r.agg);
        let t = if r.metric.is_empty() {
            read::timeline::timeline_of(&self.state, &headers, &p).await
        } else {
            p.insert("name".into(), r.metric);
            read::timeline::metric_series_of(&self.state, &headers, &p).await
        }
        .map_err(status_of)?;
        Ok(Response::new(timeline(t)))
    }

    async fn browse(
        &self,
        request: Request<pb::BrowseRequest>,
    ) -> Result<Response<pb::BrowseResponse>, Status> {
        let headers = request.metadata().clone().into_headers();
        let r = request.into_inner();
        let mut p = Params::new();
        put_selection(&mut p, "", r.selection.as_ref());
        put(&mut p, "name", &r.name);
        put(&mut p, "prefix", &r.prefix);
        put_n(&mut p, "limit", r.limit);
        let b = read::browse::browse_of(&self.state, &headers, &p, &r.listing)
            .await
            .map_err(status_of)?;
        Ok(Response::new(pb::BrowseResponse {
            values: b
                .values
                .into_iter()
                .map(|v| pb::Listed {
                    name: v.name,
                    unit: v.unit.unwrap_or_default(),
                    rows: v.rows,
                })
                .collect(),
            total: b.total as u64,
            truncated: b.truncated,
        }))
    }

    async fn export(
        &self,
        request: Request<pb::ExportRequest>,
    ) -> Result<Response<pb::ExportResponse>, Status> {
        let headers = request.metadata().clone().into_headers();
        let r = request.into_inner();
        let mut p = Params::new();
        put_selection(&mut p, "", r.selection.as_ref());
        put(&mut p, "format", &r.format);
        let e = read::export::export_of(&self.state, &headers, &p)
            .await
            .map_err(status_of)?;
        Ok(Response::new(pb::ExportResponse {
            data: e.bytes,
            content_type: e.format.content_type().into(),
            file_name: e.file_name,
        }))
    }

    type SqlStream = SqlStream;

    async fn sql(&self, request: Request<pb::SqlRequest>) -> Result<Response<SqlStream>, Status> {
        let headers = request.metadata().clone().into_headers();
        let r = request.into_inner();
        let mut p = Params::new();
        put(&mut p, "tenant", &r.tenant);
        let ctx =
            read::begin_as(&self.state, &headers, &p, Permission::Query).map_err(status_of)?;
        let out = read::timed(&self.state, async {
            ctx.ready
                .query
                .sql(ctx.scope.clone(), &r.sql)
                .await
                .map_err(flarego_query::read::ReadError::Query)
        })
        .await
        .map_err(status_of)?;
        let messages = flarego_storage::blocking(|| ipc_messages(&out))
            .map_err(|e| Status::internal(e.to_string()))?;
        let stream = futures::stream::iter(
            messages
                .into_iter()
                .map(|arrow_ipc| Ok(pb::SqlResponse { arrow_ipc })),
        );
        Ok(Response::new(Box::pin(stream)))
    }
}

/// The result as IPC stream pieces: schema, each batch, end of stream.
fn ipc_messages(
    out: &flarego_query::QueryOutput,
) -> Result<Vec<Vec<u8>>, arrow::error::ArrowError> {
    use arrow::ipc::writer::StreamWriter;
    let mut w = StreamWriter::try_new(Vec::new(), &out.schema)?;
    let mut messages = vec![std::mem::take(w.get_mut())];
    for b in &out.batches {
        w.write(b)?;
        messages.push(std::mem::take(w.get_mut()));
    }
    w.finish()?;
    messages.push(std::mem::take(w.get_mut()));
    Ok(messages)
}

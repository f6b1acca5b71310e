//! `GET /metrics`: Prometheus text exposition.

use crate::auth::Permission;
use crate::error::ApiError;
use crate::state::SharedState;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

/// Counters span every tenant, so with auth on only a token with the
/// `metrics` permission (admins) may read them.
pub async fn metrics(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    state.auth.authorize(&headers, Permission::Metrics)?;
    let mut out = String::new();
    let mut counter = |name: &str, help: &str, v: &AtomicU64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
            v.load(Ordering::Relaxed)
        );
    };
    let c = &state.counters;
    counter(
        "flarego_ingest_requests_total",
        "Ingest requests received.",
        &c.ingest_requests,
    );
    counter(
        "flarego_ingest_rejected_total",
        "Ingest requests refused as invalid.",
        &c.ingest_rejected,
    );
    counter(
        "flarego_ingest_rows_total",
        "Sample rows ingested.",
        &c.ingest_rows,
    );
    counter(
        "flarego_ingest_bytes_total",
        "Bytes logged to the WAL by ingest.",
        &c.ingest_bytes,
    );
    counter("flarego_queries_total", "SQL queries answered.", &c.queries);
    counter(
        "flarego_queries_failed_total",
        "SQL queries that failed.",
        &c.queries_failed,
    );
    counter(
        "flarego_agent_chunks_total",
        "Agent chunks received over gRPC or WebSocket.",
        &c.agent_chunks,
    );
    counter(
        "flarego_agent_duplicate_chunks_total",
        "Agent chunks that were resends of stored ones (not stored again).",
        &c.agent_duplicates,
    );
    counter(
        "flarego_agent_streams_total",
        "Agent streams opened.",
        &c.agent_streams,
    );
    if let Ok(ready) = state.ready() {
        let s = ready.engine.stats();
        counter(
            "flarego_wal_records_total",
            "WAL records appended.",
            &s.wal_records,
        );
        counter(
            "flarego_wal_syncs_total",
            "WAL group commits (fdatasync).",
            &s.wal_syncs,
        );
        counter(
            "flarego_wal_replayed_records_total",
            "WAL records replayed at start-up.",
            &s.replayed_records,
        );
        counter(
            "flarego_wal_replay_failures_total",
            "WAL records that failed to decode on replay.",
            &s.replay_failures,
        );
        counter(
            "flarego_compactions_total",
            "Compactions to Parquet.",
            &s.compactions,
        );
        counter(
            "flarego_compaction_failures_total",
            "Failed compactions.",
            &s.compaction_failures,
        );
        let hot = ready.engine.hot_usage();
        let _ = writeln!(
            out,
            "# HELP flarego_hot_sample_rows Sample rows in memory.\n# TYPE flarego_hot_sample_rows gauge\nflarego_hot_sample_rows {}\n# HELP flarego_hot_bytes Bytes of row data in memory.\n# TYPE flarego_hot_bytes gauge\nflarego_hot_bytes {}\n# HELP flarego_hot_windows Windows in memory.\n# TYPE flarego_hot_windows gauge\nflarego_hot_windows {}",
            hot.sample_rows, hot.bytes, hot.windows
        );
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out))
}

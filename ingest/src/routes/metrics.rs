//! `GET /metrics`: Prometheus text exposition.

use crate::auth::Permission;
use crate::error::ApiError;
use crate::state::SharedState;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::IntoResponse;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

fn counter(out: &mut String, name: &str, help: &str, v: &AtomicU64) {
    let _ = writeln!(
        out,
        "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
        v.load(Ordering::Relaxed)
    );
}

fn gauge(out: &mut String, name: &str, help: &str, v: impl std::fmt::Display) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
}

/// Counters span every tenant, so with auth on only a token with the
/// `metrics` permission (admins) may read them.
pub async fn metrics(
    State(state): State<SharedState>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, ApiError> {
    state.auth.authorize(&headers, Permission::Metrics)?;
    let mut out = String::new();
    let o = &mut out;
    let c = &state.counters;
    counter(
        o,
        "flarego_ingest_requests_total",
        "Ingest requests received.",
        &c.ingest_requests,
    );
    counter(
        o,
        "flarego_ingest_rejected_total",
        "Ingest requests refused as invalid.",
        &c.ingest_rejected,
    );
    counter(
        o,
        "flarego_ingest_rows_total",
        "Sample rows ingested.",
        &c.ingest_rows,
    );
    counter(
        o,
        "flarego_ingest_bytes_total",
        "Bytes logged to the WAL by ingest.",
        &c.ingest_bytes,
    );
    counter(
        o,
        "flarego_queries_total",
        "SQL queries answered.",
        &c.queries,
    );
    counter(
        o,
        "flarego_queries_failed_total",
        "SQL queries that failed.",
        &c.queries_failed,
    );
    counter(
        o,
        "flarego_agent_chunks_total",
        "Agent chunks received over gRPC or WebSocket.",
        &c.agent_chunks,
    );
    counter(
        o,
        "flarego_agent_duplicate_chunks_total",
        "Agent chunks that were resends of stored ones (not stored again).",
        &c.agent_duplicates,
    );
    counter(
        o,
        "flarego_agent_streams_total",
        "Agent streams opened.",
        &c.agent_streams,
    );
    gauge(
        o,
        "flarego_live_subscribers",
        "Live-tail subscribers connected.",
        c.live_subscribers.load(Ordering::Relaxed),
    );
    counter(
        o,
        "flarego_live_updates_total",
        "Live-tail updates sent.",
        &c.live_updates,
    );
    counter(
        o,
        "flarego_live_missed_writes_total",
        "Writes live-tail subscribers missed by falling behind the live buffer.",
        &c.live_missed,
    );
    gauge(
        o,
        "flarego_runtime_alive_tasks",
        "Tasks alive in the server's runtime.",
        tokio::runtime::Handle::current()
            .metrics()
            .num_alive_tasks(),
    );
    gauge(
        o,
        "flarego_ingest_memory_bytes",
        "Memory charged by requests being decoded.",
        state.ingest_memory.used(),
    );
    for (listener, conns) in [("http", &state.http_conns), ("grpc", &state.grpc_conns)] {
        let load = |v: &AtomicU64| v.load(Ordering::Relaxed);
        let _ = writeln!(
            o,
            "flarego_connections_accepted_total{{listener=\"{listener}\"}} {}\nflarego_connections_open{{listener=\"{listener}\"}} {}\nflarego_accept_errors_total{{listener=\"{listener}\"}} {}\nflarego_tls_handshake_failures_total{{listener=\"{listener}\"}} {}",
            load(&conns.accepted),
            load(&conns.open),
            load(&conns.accept_errors),
            load(&conns.handshake_failures),
        );
    }
    if let Ok(ready) = state.ready() {
        alert_metrics(o, ready.alerts.metrics());
        let s = ready.engine.stats();
        counter(
            o,
            "flarego_wal_records_total",
            "WAL records appended.",
            &s.wal_records,
        );
        counter(
            o,
            "flarego_wal_syncs_total",
            "WAL group commits (fdatasync).",
            &s.wal_syncs,
        );
        counter(
            o,
            "flarego_wal_replayed_records_total",
            "WAL records replayed at start-up.",
            &s.replayed_records,
        );
        counter(
            o,
            "flarego_wal_replay_failures_total",
            "WAL records that failed to decode on replay.",
            &s.replay_failures,
        );
        counter(
            o,
            "flarego_wal_corrupt_regions",
            "Damaged stretches of the WAL skipped at the last start-up.",
            &s.wal_corrupt_regions,
        );
        counter(
            o,
            "flarego_wal_corrupt_records",
            "Acknowledged WAL records lost to damage at the last start-up.",
            &s.wal_corrupt_records,
        );
        counter(
            o,
            "flarego_wal_torn_tail_bytes",
            "Bytes of an unacknowledged write truncated off the WAL at the last start-up.",
            &s.wal_torn_tail_bytes,
        );
        gauge(
            o,
            "flarego_wal_disk_bytes",
            "Bytes of WAL segments on disk.",
            s.wal_disk_bytes.load(Ordering::Relaxed),
        );
        let health = ready.engine.store_health();
        gauge(
            o,
            "flarego_store_up",
            "1 when the last compaction reached the object store, 0 when it failed.",
            u64::from(health.is_healthy()),
        );
        gauge(
            o,
            "flarego_store_consecutive_failures",
            "Compactions in a row that failed on the object store.",
            health.consecutive_failures.load(Ordering::Relaxed),
        );
        gauge(
            o,
            "flarego_unpersisted_bytes",
            "Bytes of windows in memory not yet in the object store (refused past --max-unpersisted-bytes).",
            ready.engine.hot_usage().bytes as u64,
        );
        gauge(
            o,
            "flarego_backlog_bytes",
            "Bytes of windows due for the object store but not in it yet (grows during an outage).",
            ready.engine.backlog_bytes() as u64,
        );
        counter(
            o,
            "flarego_compactions_total",
            "Compactions to Parquet.",
            &s.compactions,
        );
        counter(
            o,
            "flarego_compaction_failures_total",
            "Failed compactions.",
            &s.compaction_failures,
        );
        counter(
            o,
            "flarego_compactor_panics_total",
            "Compactor runs that panicked (logged; the next run goes on).",
            &s.compactor_panics,
        );
        let stacks = ready.engine.stacks();
        gauge(
            o,
            "flarego_stack_cache_bytes",
            "Bytes of stack frames held in memory.",
            stacks.bytes(),
        );
        gauge(
            o,
            "flarego_stacks_in_memory",
            "Stacks whose frames are in memory.",
            stacks.len(),
        );
        gauge(
            o,
            "flarego_stacks_evicted",
            "Stacks known by fingerprint only (frames in the stacks files).",
            stacks.evicted_len(),
        );
        counter(
            o,
            "flarego_stack_cold_reads_total",
            "Stack frames read back from the stacks files.",
            &s.stack_cold_reads,
        );
        let hot = ready.engine.hot_usage();
        gauge(
            o,
            "flarego_hot_sample_rows",
            "Sample rows in memory.",
            hot.sample_rows,
        );
        gauge(
            o,
            "flarego_hot_bytes",
            "Bytes of row data in memory.",
            hot.bytes,
        );
        gauge(o, "flarego_hot_windows", "Windows in memory.", hot.windows);
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out))
}

/// The alert engine's counters.
fn alert_metrics(o: &mut String, a: &flarego_alerts::metrics::AlertMetrics) {
    let counters: [(&str, &str, &AtomicU64); 9] = [
        (
            "flarego_alert_evaluations_total",
            "Rule evaluations.",
            &a.evaluations,
        ),
        (
            "flarego_alert_evaluation_failures_total",
            "Rule evaluations that failed (query error or timeout).",
            &a.evaluation_failures,
        ),
        (
            "flarego_alert_queries_total",
            "Queries run by rules (rules sharing a selection share one).",
            &a.queries,
        ),
        (
            "flarego_alert_notifications_sent_total",
            "Notifications delivered by sinks.",
            &a.notifications_sent,
        ),
        (
            "flarego_alert_notifications_retried_total",
            "Notification attempts that failed and were retried.",
            &a.notifications_retried,
        ),
        (
            "flarego_alert_notifications_dead_total",
            "Notifications given up on (dead-letter records).",
            &a.notifications_dead,
        ),
        (
            "flarego_alert_reloads_total",
            "Rule file reloads.",
            &a.reloads,
        ),
        (
            "flarego_alert_reload_failures_total",
            "Rule files refused on reload (the old rules kept running).",
            &a.reload_failures,
        ),
        ("flarego_alert_rules", "Rules loaded.", &a.rules),
    ];
    for (name, help, v) in counters {
        if name == "flarego_alert_rules" {
            gauge(o, name, help, v.load(Ordering::Relaxed));
        } else {
            counter(o, name, help, v);
        }
    }
    gauge(
        o,
        "flarego_alert_firing",
        "Alert instances firing now.",
        a.firing.load(Ordering::Relaxed),
    );
    gauge(
        o,
        "flarego_alert_evaluation_seconds_total",
        "Time spent evaluating rules, in seconds.",
        a.evaluation_ns.load(Ordering::Relaxed) as f64 / 1e9,
    );
}

//! # flarego-proto
//!
//! Protobuf definitions FlareGo speaks, and the Rust types generated from
//! them at build time (by `protox` + `prost-build`, no system `protoc`).
//! No logic lives here.
//!
//! - [`pprof`]: the pprof `Profile` message (Go's `net/http/pprof` output and
//!   what every Pyroscope client sends).
//! - [`push::v1`]: Pyroscope's `push.v1.PusherService/Push` request and response.
//! - [`types::v1`]: labels, profile types, series and selectors shared
//!   by Pyroscope's push and read APIs.
//! - [`querier::v1`], [`settings::v1`]: Pyroscope's read API messages
//!   (Connect), for Grafana, profilecli and Pyroscope's UI.
//! - [`agent::v1`]: the chunks agents send per window, and their acks.
//! - [`flarego::query::v1`]: the read API over gRPC (`QueryService`).

/// `perftools.*` packages.
pub mod perftools {
    /// The pprof profile format (`perftools.profiles`).
    pub mod profiles {
        include!(concat!(env!("OUT_DIR"), "/perftools.profiles.rs"));
    }
}

/// `types.*` packages.
pub mod types {
    /// Label pairs (`types.v1`).
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/types.v1.rs"));
    }
}

/// `querier.*` packages.
pub mod querier {
    /// Pyroscope's read API (`querier.v1`), served over Connect.
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/querier.v1.rs"));
    }
}

/// `settings.*` packages.
pub mod settings {
    /// Pyroscope's settings API (`settings.v1`).
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/settings.v1.rs"));
    }
}

/// `push.*` packages.
pub mod push {
    /// Pyroscope's push API (`push.v1`).
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/push.v1.rs"));
    }
}

/// `agent.*` packages.
pub mod agent {
    /// What agents send (`agent.v1`): chunks per window, and acks.
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/agent.v1.rs"));
    }
}

/// `flarego.*` packages.
pub mod flarego {
    /// FlareGo's own APIs.
    pub mod query {
        /// The read API over gRPC (`flarego.query.v1.QueryService`).
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/flarego.query.v1.rs"));
        }
    }
}

pub use perftools::profiles as pprof;

/// The metric names an agent's chunks carry (`agent.v1` metric points):
/// the vocabulary alert rules are checked against.
pub mod agent_metrics {
    pub const NAMES: &[&str] = &[
        "go_goroutines",
        "go_goroutines_wait_minutes_max",
        "go_goroutines_blocked",
        "go_goroutines_total",
        "go_heap_inuse_bytes",
        "go_heap_alloc_bytes",
        "go_heap_objects",
        "go_gc_count",
        "go_gc_pause_ns",
        "go_gc_pause_p50_ns",
        "go_gc_pause_p99_ns",
        "go_gc_pause_max_ns",
        "go_gc_pauses_lost",
        "agent_cpu_percent",
        "agent_rss_bytes",
        "agent_buffered_chunks",
        "agent_buffered_bytes",
        "agent_dropped_chunks_total",
        "agent_refused_chunks_total",
        "agent_window_seq",
        "agent_scrape_errors",
        "agent_perf_samples",
        "agent_perf_lost_samples",
        "agent_perf_threads",
        "agent_perf_achieved_hz",
        "agent_perf_errors",
    ];
}

#[cfg(test)]
mod tests {
    use prost::Message;

    /// Field numbers clients depend on, checked on the wire.
    #[test]
    fn read_api_messages_use_pyroscopes_field_numbers() {
        let req = crate::querier::v1::SelectMergeStacktracesRequest {
            profile_type_id: "a".into(),
            max_nodes: Some(5),
            format: crate::querier::v1::ProfileFormat::Pprof as i32,
            span_selector: vec!["s".into()],
            ..Default::default()
        };
        // 1: "a"; 5: 5; 6: 4 (PPROF); 11: "s".
        assert_eq!(
            req.encode_to_vec(),
            [0x0a, 1, b'a', 0x28, 5, 0x30, 4, 0x5a, 1, b's']
        );
        let series = crate::querier::v1::SeriesResponse {
            labels_set: vec![Default::default()],
        };
        assert_eq!(series.encode_to_vec(), [0x12, 0], "labels_set is field 2");
        let step = crate::querier::v1::SelectSeriesRequest {
            step: 15.0,
            exemplar_type: crate::types::v1::ExemplarType::None as i32,
            ..Default::default()
        };
        let bytes = step.encode_to_vec();
        assert_eq!(bytes[0], 0x31, "step is field 6, a double");
        assert_eq!(&bytes[9..], [0x50, 1], "exemplar_type is field 10");
    }
}
